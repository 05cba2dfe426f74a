build/verify/deepcheck.o: verify/deepcheck.c lib/blob.h lib/buf.h \
 lib/error.h lib/crypto.h verify/deepcheck.h lib/out.h lib/repo.h \
 lib/blob.h lib/config.h lib/index.h lib/pack.h lib/tree.h lib/pack.h \
 lib/util.h
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
verify/deepcheck.h:
lib/out.h:
lib/repo.h:
lib/blob.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
lib/pack.h:
lib/util.h:
