build/asan/tests/fuzz/fuzz_snapshot.o: tests/fuzz/fuzz_snapshot.c \
 lib/tree.h lib/buf.h lib/error.h lib/crypto.h
lib/tree.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
