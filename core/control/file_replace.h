/* Replacing a file's content atomically without loosening it: for files an admin protects
 * (a clients file holds every user's UUID). */
#ifndef EVP_FILE_REPLACE_H
#define EVP_FILE_REPLACE_H

#include <stddef.h>

/* Replaces path's content with data (len bytes): a new file with a unique name (O_EXCL)
 * in the same directory, given the old file's mode and owner, synced, renamed over path, and
 * the directory synced. A symlink at path is followed: its target is replaced. Nothing is
 * changed when a step fails. 0, or -1 with why in err (errlen bytes). */
int evp_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen);

#endif
