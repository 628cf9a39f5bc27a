/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * with-fds [N=PATH ...] COMMAND [ARG...]: opens each PATH read-only on descriptor N (the leading
 * arguments made of digits, '=' and a path), then executes COMMAND. scripts/bench.sh gnome runs
 * both sides of "confine against bwrap" through it, so each pays the same extra exec: bwrap reads
 * its filter (--seccomp N) to the end, so every run needs a descriptor of its own, freshly opened
 * (confine opens its own filter itself).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc; i++) {
    size_t digits = strspn(argv[i], "0123456789");
    if (digits == 0 || argv[i][digits] != '=') break;
    int want = atoi(argv[i]);
    const char *path = argv[i] + digits + 1;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || (fd != want && (dup2(fd, want) < 0 || close(fd) < 0))) {
      perror(path);
      return 66;
    }
  }
  if (i >= argc) { fprintf(stderr, "usage: with-fds [N=PATH ...] COMMAND [ARG...]\n"); return 64; }
  execvp(argv[i], argv + i);
  perror(argv[i]);
  return 127;
}
