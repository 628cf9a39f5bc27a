/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * with-fds [N=PATH ...] -- COMMAND [ARG...]: opens each PATH read-only on descriptor N, then
 * executes COMMAND. scripts/bench.sh gnome runs both sides of "confine against bwrap" through it,
 * so each pays the same extra exec: bwrap reads its filter (--seccomp N) to the end, so every run
 * needs a descriptor of its own, freshly opened (confine opens its own filter itself).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq) { fprintf(stderr, "with-fds: %s is not N=PATH\n", argv[i]); return 64; }
    int want = atoi(argv[i]);
    int fd = open(eq + 1, O_RDONLY);
    if (fd < 0 || (fd != want && (dup2(fd, want) < 0 || close(fd) < 0))) {
      perror(eq + 1);
      return 66;
    }
  }
  if (i + 1 >= argc) { fprintf(stderr, "usage: with-fds [N=PATH ...] -- COMMAND [ARG...]\n"); return 64; }
  execvp(argv[i + 1], argv + i + 1);
  perror(argv[i + 1]);
  return 127;
}
