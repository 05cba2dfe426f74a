build/asan/verify/cmd_check.o: verify/cmd_check.c cli/cli.h lib/buf.h \
 lib/error.h lib/error.h lib/repo.h lib/blob.h lib/buf.h lib/crypto.h \
 lib/config.h lib/index.h lib/pack.h lib/tree.h verify/deepcheck.h \
 lib/out.h lib/util.h
cli/cli.h:
lib/buf.h:
lib/error.h:
lib/error.h:
lib/repo.h:
lib/blob.h:
lib/buf.h:
lib/crypto.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
verify/deepcheck.h:
lib/out.h:
lib/util.h:
