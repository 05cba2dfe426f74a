build/lib/manifest.o: lib/manifest.c lib/manifest.h lib/buf.h lib/error.h \
 lib/crypto.h lib/util.h
lib/manifest.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
