build/asan/lib/buf.o: lib/buf.c lib/buf.h lib/error.h lib/util.h
lib/buf.h:
lib/error.h:
lib/util.h:
