build/lib/crypto.o: lib/crypto.c lib/crypto.h lib/error.h lib/util.h
lib/crypto.h:
lib/error.h:
lib/util.h:
