build/asan/tests/unit/test_tree.o: tests/unit/test_tree.c lib/tree.h \
 lib/buf.h lib/error.h lib/crypto.h lib/util.h
lib/tree.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
