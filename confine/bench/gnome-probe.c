/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The command chain of scripts/bench.sh's `gnome-calc-probe`: a static program that returns at
 * once (so a launch is timed to the execve of the chain), or, given --snapshelf-probe-dump, prints
 * what the sandbox it runs in looks like, so the bench can check that confine and bwrap built the
 * same one (confine/bench/same-binds.py):
 *   mount <point> <fstype> <ro|rw> <major:minor> <mode> <root in its file system>  (mountinfo order)
 *   entry <path> <dir|link|file|other> <mode> [<link target>]
 *     every entry of a tmpfs (walked within that tmpfs only: what a bwrap --dir/--symlink makes)
 *   hash <path> <fnv-1a 64 of its contents | missing>   for each path after the flag
 *   status <NoNewPrivs|Seccomp|Seccomp_filters> <value>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo: undone, so paths compare. */
static void unescape(char *s) {
  char *o = s;
  for (char *i = s; *i; i++) {
    if (i[0] == '\\' && i[1] >= '0' && i[1] <= '7' && i[2] && i[3]) {
      *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
      i += 3;
    } else {
      *o++ = *i;
    }
  }
  *o = 0;
}

static void walk(const char *dir, dev_t dev) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name);
    struct stat st;
    if (lstat(p, &st) || st.st_dev != dev) continue; /* a mount point: in the mount list */
    const char *kind = S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link"
                       : S_ISREG(st.st_mode) ? "file" : "other";
    char target[4096] = "";
    if (S_ISLNK(st.st_mode)) {
      ssize_t n = readlink(p, target, sizeof target - 1);
      target[n > 0 ? n : 0] = 0;
    }
    printf("entry %s %s %04o %s\n", p, kind, st.st_mode & 07777, target);
    if (S_ISDIR(st.st_mode)) walk(p, dev);
  }
  closedir(d);
}

static void mounts(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) { puts("mount unreadable"); return; }
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    /* id parent major:minor root point options [optional fields] - fstype source super */
    char *field[16] = {0};
    int n = 0;
    for (char *t = strtok(line, " \n"); t && n < 16; t = strtok(NULL, " \n")) field[n++] = t;
    int dash = 6;
    while (dash < n && strcmp(field[dash], "-")) dash++;
    if (dash + 1 >= n) continue;
    unescape(field[3]);
    unescape(field[4]);
    const char *ro = strncmp(field[5], "ro", 2) == 0 && (field[5][2] == 0 || field[5][2] == ',')
                         ? "ro" : "rw";
    struct stat st;
    int seen = !lstat(field[4], &st);
    printf("mount %s %s %s %s %04o %s\n", field[4], field[dash + 1], ro, field[2],
           seen ? st.st_mode & 07777 : 0, field[3]);
    if (seen && !strcmp(field[dash + 1], "tmpfs")) walk(field[4], st.st_dev);
  }
  fclose(f);
}

static void hash(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { printf("hash %s missing\n", path); return; }
  uint64_t h = 0xcbf29ce484222325ULL;
  unsigned char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ULL;
  close(fd);
  printf("hash %s %016llx\n", path, (unsigned long long)h);
}

static void status(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char key[64], value[256];
    if (sscanf(line, "%63[^:]:%*[ \t]%255s", key, value) != 2) continue;
    if (!strcmp(key, "NoNewPrivs") || !strcmp(key, "Seccomp") || !strcmp(key, "Seccomp_filters"))
      printf("status %s %s\n", key, value);
  }
  fclose(f);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--snapshelf-probe-dump")) continue;
    mounts();
    for (int j = i + 1; j < argc; j++) hash(argv[j]);
    status();
    return 0;
  }
  return 0;
}
