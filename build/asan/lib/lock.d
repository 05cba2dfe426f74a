build/asan/lib/lock.o: lib/lock.c lib/lock.h lib/error.h lib/repo.h \
 lib/blob.h lib/buf.h lib/crypto.h lib/config.h lib/index.h lib/pack.h \
 lib/tree.h lib/out.h lib/util.h
lib/lock.h:
lib/error.h:
lib/repo.h:
lib/blob.h:
lib/buf.h:
lib/crypto.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
lib/out.h:
lib/util.h:
