build/asan/lib/blob.o: lib/blob.c lib/blob.h lib/buf.h lib/error.h \
 lib/crypto.h lib/util.h
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
