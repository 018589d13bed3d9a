/*
 * floor-reader: the floor of a scrape. Reads exactly the files the exporter reads per scrape, for the
 * given QEMU PIDs, with one open/read/close each and a byte scan for the fields it uses:
 *   readdir /proc                           (the inventory looks for new processes)
 *   /proc/PID/stat, readdir /proc/PID/task  (is the VM alive; which threads)
 *   /proc/PID/task/TID/{stat,status,schedstat}
 *   /proc/PID/io
 * Usage: floor-reader PID...   then one line on stdin per pass:
 *   scan  -> "threads=N sum=S" once the pass is done (S: a checksum of the fields, so nothing is skipped)
 * Exits when stdin closes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[16384];

/* Reads a whole small file into buf; returns its length, or -1 when it is gone. */
static ssize_t slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = 0, got;
  while (n < (ssize_t)sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += got;
  close(fd);
  buf[n] = 0;
  return n;
}

/* The Nth space-separated field after the comm's closing parenthesis (N=1 is the state). */
static unsigned long long stat_field(int n) {
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int i = 0; i < n && p; i++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static unsigned long long status_field(const char *key) {
  char *p = strstr(buf, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static unsigned long long scan_pid(const char *pid, long *threads) {
  char path[128];
  unsigned long long sum = 0;
  snprintf(path, sizeof path, "/proc/%s/stat", pid);
  if (slurp(path) < 0) return 0;
  sum += stat_field(12) + stat_field(13);         /* utime, stime */
  snprintf(path, sizeof path, "/proc/%s/task", pid);
  DIR *d = opendir(path);
  if (!d) return sum;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/task/%s/stat", pid, e->d_name);
    if (slurp(path) < 0) continue;
    sum += stat_field(12) + stat_field(13) + stat_field(20);   /* utime, stime, starttime */
    snprintf(path, sizeof path, "/proc/%s/task/%s/status", pid, e->d_name);
    if (slurp(path) < 0) continue;
    sum += status_field("\nvoluntary_ctxt_switches:") + status_field("\nnonvoluntary_ctxt_switches:") + status_field("\nVmRSS:");
    snprintf(path, sizeof path, "/proc/%s/task/%s/schedstat", pid, e->d_name);
    if (slurp(path) < 0) continue;
    char *sp = strchr(buf, ' ');
    if (sp) sum += strtoull(sp + 1, NULL, 10);       /* run-queue wait ns */
    (*threads)++;
  }
  closedir(d);
  snprintf(path, sizeof path, "/proc/%s/io", pid);
  if (slurp(path) >= 0) sum += status_field("\nread_bytes:") + status_field("\nwrite_bytes:");
  return sum;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "scan", 4) != 0) { printf("error unknown command\n"); continue; }
    long threads = 0;
    unsigned long long sum = 0;
    DIR *proc = opendir("/proc");
    if (proc) {
      struct dirent *e;
      while ((e = readdir(proc))) sum += e->d_name[0];
      closedir(proc);
    }
    for (int i = 1; i < argc; i++) sum += scan_pid(argv[i], &threads);
    printf("threads=%ld sum=%llu\n", threads, sum);
  }
  return 0;
}
