build/tests/unit/test_manifest.o: tests/unit/test_manifest.c \
 lib/manifest.h lib/buf.h lib/error.h lib/crypto.h lib/util.h
lib/manifest.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
