build/asan/tests/unit/test_config.o: tests/unit/test_config.c \
 lib/config.h lib/buf.h lib/error.h lib/crypto.h lib/util.h
lib/config.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
