build/asan/lib/out.o: lib/out.c lib/error.h lib/out.h lib/util.h
lib/error.h:
lib/out.h:
lib/util.h:
