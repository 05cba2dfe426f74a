build/asan/seed/cmd_init.o: seed/cmd_init.c cli/cli.h lib/buf.h \
 lib/error.h lib/error.h lib/repo.h lib/blob.h lib/buf.h lib/crypto.h \
 lib/config.h lib/index.h lib/pack.h lib/tree.h lib/out.h lib/util.h
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
lib/out.h:
lib/util.h:
