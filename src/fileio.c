/* Whole-file reads with a size limit. */
#include "twinprobe/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

tp_err tp_file_read(const char *path, size_t max, char **out, size_t *len, struct tp_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t used = 0;
    tp_err rc = TP_OK;
    int fd;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tp_error_set(err, TP_ERR_IO, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = tp_error_set(err, TP_ERR_IO, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = tp_error_set(err, TP_ERR_IO, "is a directory, not a file");
        goto done;
    }
    if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
        rc = tp_error_set(err, TP_ERR_LIMIT, "file is %lld bytes, over the %zu-byte limit",
                          (long long)st.st_size, max);
        goto done;
    }
    buf = malloc(max + 2);
    if (!buf) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf + used, max + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tp_error_set(err, TP_ERR_IO, "cannot read: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max) {
            rc = tp_error_set(err, TP_ERR_LIMIT, "file is over the %zu-byte limit", max);
            goto done;
        }
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}
