build/restore/restore.o: restore/restore.c restore/restore.h lib/buf.h \
 lib/error.h lib/crypto.h lib/error.h lib/out.h lib/tree.h lib/buf.h \
 lib/crypto.h lib/util.h
restore/restore.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/error.h:
lib/out.h:
lib/tree.h:
lib/buf.h:
lib/crypto.h:
lib/util.h:
