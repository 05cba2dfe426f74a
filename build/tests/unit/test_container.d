build/tests/unit/test_container.o: tests/unit/test_container.c \
 lib/container.h lib/buf.h lib/error.h lib/crypto.h lib/index.h \
 lib/pack.h lib/blob.h lib/manifest.h lib/manifest.h lib/util.h
lib/container.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/manifest.h:
lib/manifest.h:
lib/util.h:
