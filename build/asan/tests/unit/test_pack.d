build/asan/tests/unit/test_pack.o: tests/unit/test_pack.c lib/pack.h \
 lib/blob.h lib/buf.h lib/error.h lib/crypto.h lib/util.h
lib/pack.h:
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
