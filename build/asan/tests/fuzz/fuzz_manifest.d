build/asan/tests/fuzz/fuzz_manifest.o: tests/fuzz/fuzz_manifest.c \
 lib/manifest.h lib/buf.h lib/error.h lib/crypto.h
lib/manifest.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
