build/asan/tests/unit/test_chunker.o: tests/unit/test_chunker.c lib/buf.h \
 lib/error.h lib/chunker.h lib/util.h
lib/buf.h:
lib/error.h:
lib/chunker.h:
lib/util.h:
