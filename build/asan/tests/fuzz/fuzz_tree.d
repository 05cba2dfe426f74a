build/asan/tests/fuzz/fuzz_tree.o: tests/fuzz/fuzz_tree.c lib/tree.h \
 lib/buf.h lib/error.h lib/crypto.h
lib/tree.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
