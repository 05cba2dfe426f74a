build/asan/verify/deep.o: verify/deep.c verify/deep.h lib/check.h \
 lib/crypto.h lib/error.h lib/manifest.h lib/buf.h lib/out.h cli/cli.h \
 lib/buf.h lib/error.h lib/repo.h lib/blob.h lib/config.h lib/index.h \
 lib/pack.h lib/tree.h verify/deepcheck.h lib/out.h lib/util.h
verify/deep.h:
lib/check.h:
lib/crypto.h:
lib/error.h:
lib/manifest.h:
lib/buf.h:
lib/out.h:
cli/cli.h:
lib/buf.h:
lib/error.h:
lib/repo.h:
lib/blob.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
verify/deepcheck.h:
lib/out.h:
lib/util.h:
