/*
 * floor-reader: the floor of a scrape. Reads the files the exporter reads per scrape, for the given QEMU PIDs,
 * with one open/read/close each and a byte scan for the fields it uses:
 *   readdir /proc                           (the inventory looks for new processes)
 *   /proc/PID/stat, readdir /proc/PID/task  (is the VM alive; which threads)
 *   /proc/PID/task/TID/{stat,schedstat,status}
 *   /proc/PID/io
 * Two floors: by default every file of every thread (the floor of reading everything); with --changed-only, the
 * exporter's own logic (src/model/snapshot-reader.ts): a thread's status only when its schedstat's time on a CPU
 * or timeslices moved since its status was last read (or never was, or schedstats are off), and always the main
 * thread's (the process's RSS); a thread is known by TID and start time.
 * Usage: floor-reader [--changed-only] PID...   then one line on stdin per pass:
 *   scan  -> "threads=N status=M sum=S" once the pass is done (M: status files read; S: a checksum of the
 *            fields, so nothing is skipped)
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
static int changed_only;

/* Per TID (indexed by TID, below pid_max: untouched pages cost nothing): what its status was last read at. */
struct seen { unsigned long long starttime, run_ns, timeslices; };
static struct seen *seen;
static long pid_max;

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

static unsigned long long scan_pid(const char *pid, long *threads, long *status) {
  char path[320];
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
    unsigned long long starttime = stat_field(20);
    sum += stat_field(12) + stat_field(13) + starttime;   /* utime, stime, starttime */
    snprintf(path, sizeof path, "/proc/%s/task/%s/schedstat", pid, e->d_name);
    if (slurp(path) < 0) continue;
    char *end;
    unsigned long long run_ns = strtoull(buf, &end, 10);
    unsigned long long wait_ns = strtoull(end, &end, 10);
    unsigned long long timeslices = strtoull(end, NULL, 10);
    sum += wait_ns;
    long tid = atol(e->d_name);
    struct seen *s = tid > 0 && tid < pid_max ? &seen[tid] : NULL;
    int idle = changed_only && s && strcmp(e->d_name, pid) != 0 && run_ns > 0 && s->starttime == starttime &&
               s->run_ns == run_ns && s->timeslices == timeslices;
    if (!idle) {
      snprintf(path, sizeof path, "/proc/%s/task/%s/status", pid, e->d_name);
      if (slurp(path) < 0) continue;
      sum += status_field("\nvoluntary_ctxt_switches:") + status_field("\nnonvoluntary_ctxt_switches:") + status_field("\nVmRSS:");
      if (s) *s = (struct seen){ starttime, run_ns, timeslices };
      (*status)++;
    }
    (*threads)++;
  }
  closedir(d);
  snprintf(path, sizeof path, "/proc/%s/io", pid);
  if (slurp(path) >= 0) sum += status_field("\nread_bytes:") + status_field("\nwrite_bytes:");
  return sum;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int first = 1;
  if (argc > 1 && !strcmp(argv[1], "--changed-only")) changed_only = 1, first = 2;
  FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
  if (!f || fscanf(f, "%ld", &pid_max) != 1) { perror("pid_max"); return 1; }
  fclose(f);
  seen = calloc(pid_max, sizeof *seen);
  if (!seen) { perror("calloc"); return 1; }
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "scan", 4) != 0) { printf("error unknown command\n"); continue; }
    long threads = 0, status = 0;
    unsigned long long sum = 0;
    DIR *proc = opendir("/proc");
    if (proc) {
      struct dirent *e;
      while ((e = readdir(proc))) sum += e->d_name[0];
      closedir(proc);
    }
    for (int i = first; i < argc; i++) sum += scan_pid(argv[i], &threads, &status);
    printf("threads=%ld status=%ld sum=%llu\n", threads, status, sum);
  }
  return 0;
}
