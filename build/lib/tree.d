build/lib/tree.o: lib/tree.c lib/tree.h lib/buf.h lib/error.h \
 lib/crypto.h lib/util.h
lib/tree.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
