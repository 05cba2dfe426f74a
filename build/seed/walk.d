build/seed/walk.o: seed/walk.c lib/util.h lib/error.h seed/walk.h \
 lib/error.h lib/tree.h lib/buf.h lib/crypto.h
lib/util.h:
lib/error.h:
seed/walk.h:
lib/error.h:
lib/tree.h:
lib/buf.h:
lib/crypto.h:
