build/tests/unit/test_crypto.o: tests/unit/test_crypto.c lib/crypto.h \
 lib/error.h lib/util.h
lib/crypto.h:
lib/error.h:
lib/util.h:
