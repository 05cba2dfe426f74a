build/asan/tests/fuzz/fuzz_trailer.o: tests/fuzz/fuzz_trailer.c \
 lib/container.h lib/buf.h lib/error.h lib/crypto.h lib/index.h \
 lib/pack.h lib/blob.h lib/manifest.h
lib/container.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/manifest.h:
