/* Atomic file replacement that keeps the old file's mode and owner. */
#include "file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Gives the new file fd the old one's owner, then its mode (a chown clears set-id bits). */
static int copy_protection(int fd, const struct stat *old)
{
    struct stat now;
    if (fstat(fd, &now) != 0)
        return -1;
    if ((now.st_uid != old->st_uid || now.st_gid != old->st_gid) &&
        fchown(fd, old->st_uid, old->st_gid) != 0)
        return -1;
    return fchmod(fd, old->st_mode & 07777);
}

/* A crash right after the rename must not bring the old name back: sync the directory. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int evp_file_replace(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char real[PATH_MAX];
    struct stat old;
    if (realpath(path, real) == NULL || stat(real, &old) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(old.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    const char *base = strrchr(real, '/') + 1; /* realpath is absolute */
    char dir[PATH_MAX], tmp[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%.*s", (int)(base - real), real); /* with its last slash */
    snprintf(tmp, sizeof tmp, "%s.%s.XXXXXX", dir, base);
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600: never an old file */
    if (fd == -1) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *step = "keep the owner and mode";
    int ok = copy_protection(fd, &old) == 0;
    if (ok) {
        step = "write";
        ok = write_all(fd, data, len) == 0;
    }
    if (ok) {
        step = "sync";
        ok = fsync(fd) == 0;
    }
    if (close(fd) != 0 && ok) {
        step = "close";
        ok = 0;
    }
    if (ok) {
        step = "rename";
        ok = rename(tmp, real) == 0;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: cannot %s: %s", tmp, step, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (sync_dir(dir) != 0) {
        snprintf(err, errlen, "%s: replaced, but syncing the directory failed: %s", real,
                 strerror(errno));
        return -1;
    }
    return 0;
}
