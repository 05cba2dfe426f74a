build/tests/fuzz/fuzz_config.o: tests/fuzz/fuzz_config.c lib/config.h \
 lib/buf.h lib/error.h lib/crypto.h
lib/config.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
