build/asan/tests/fuzz/fuzz_keyslot.o: tests/fuzz/fuzz_keyslot.c \
 lib/config.h lib/buf.h lib/error.h lib/crypto.h
lib/config.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
