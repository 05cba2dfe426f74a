build/asan/lib/util.o: lib/util.c lib/util.h lib/error.h
lib/util.h:
lib/error.h:
