/*
 * fake-qemu: looks like a QEMU process to /proc, for tests and benchmarks.
 * Built as "qemu-system-x86_64" so its comm is "qemu-system-x86".
 *
 * QEMU-like args, all ignored except:
 *   -name ...,debug-threads=on   name the threads (otherwise they keep the process name)
 *   -smp N[,...]                 N vCPU threads "CPU i/KVM" ("CPU i/TCG" with -accel tcg)
 *   -object iothread,id=X        one "IO X" thread each
 * Env: FAKE_QEMU_WORKERS (initial pool size, default 0), FAKE_QEMU_TICK_MS (sleep between
 * wake-ups, default 20), FAKE_QEMU_NAME_RCU=1 (name the rcu thread "call_rcu"), FAKE_QEMU_PARKED=1
 * (start with the pool parked, see `park`).
 *
 * Threads: main, an rcu thread, vCPUs, iothreads, "IO mon_iothread", pool "worker"s. Real QEMU
 * names call_rcu only when that thread starts after -name was parsed (a race): both happen.
 * stdin commands, each answered by one stdout line once done:
 *   workers N     pool grows/shrinks to exactly N    -> "ok N"
 *   burst N MS    N extra workers that exit after MS -> "ok N" once all have started
 *   lateburst N MS NAME_MS  as burst, but each starts unnamed (the process name) and names itself
 *                 "worker" after NAME_MS with prctl(PR_SET_NAME), as QEMU's threads do -> "ok N"
 *   spin MS       pool worker 0 burns CPU for MS     -> "ok" when done
 *   open PATH     opens PATH read-write (a FIFO too) -> "ok FD"
 *   block CALL FD N  N extra "worker"s, each making one CALL on FD that blocks: read, pread, fsync, or ioctl
 *                 (SG_IO, as QEMU's scsi-block does) -> "ok N" once all have started; each exits when its call returns
 *   park 1|0      pool workers park (never wake, like an idle QEMU pool's) or tick again -> "ok park 1|0"
 *   tids          "TID=NAME" per thread, tab-separated (pool included, bursts not)
 *   quit          -> "bye", exit
 * Prints "ready" once the initial threads are named; exits when stdin closes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8192
#define NAME_LEN 16

struct thr {
  pthread_t th;
  pid_t tid;
  char name[NAME_LEN];
  long ms;                 /* burst: lifetime; worker: pending spin request */
  long name_ms;            /* lateburst: unnamed for this long */
  int stop;                /* guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sem_t done;              /* worker: spin finished */
};

static int debug_threads;
static long tick_ms = 20;
static sem_t started;
static pthread_attr_t attr;
static struct thr *fixed[MAX_THREADS];
static int nfixed;
static struct thr *pool[MAX_THREADS];
static int npool;
static atomic_int parked;

static void die(const char *what) { perror(what); exit(1); }

static struct timespec deadline(long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
  return ts;
}

static long ms_left(struct timespec end) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
}

static void burn(long ms) {
  struct timespec end = deadline(ms);
  volatile unsigned long x = 0;
  while (ms_left(end) > 0) for (int i = 0; i < 100000; i++) x += i;
}

/* Sleep `ms` or until stopped (or given work); returns the stop flag. */
static int nap_for(struct thr *t, long ms) {
  struct timespec end = deadline(ms);
  pthread_mutex_lock(&t->mu);
  while (!t->stop && !t->ms && pthread_cond_timedwait(&t->cv, &t->mu, &end) != ETIMEDOUT) {}
  int stop = t->stop;
  pthread_mutex_unlock(&t->mu);
  return stop;
}

static int nap(struct thr *t) { return nap_for(t, tick_ms); }

/* A first nap of a fraction of a tick, different per thread: threads started together would otherwise all
   wake in the same instant every tick (thousands at once in a benchmark), which real QEMU threads do not. */
static int stagger(struct thr *t) { return nap_for(t, (long)(((unsigned long)t->tid * 2654435761UL) % (unsigned long)tick_ms)); }

static void hello(struct thr *t) {
  t->tid = gettid();
  if (debug_threads && t->name[0]) pthread_setname_np(pthread_self(), t->name);
  sem_post(&started);
}

/* vCPUs, iothreads, rcu: wake and sleep forever. */
static void *idler(void *arg) {
  struct thr *t = arg;
  hello(t);
  stagger(t);
  for (;;) nap(t);
  return NULL;
}

/* A pool worker's nap: a tick, or while parked until given work, stopped or unparked: a parked worker never runs,
   so its schedstat stands still (a mostly idle host). `park` changes the flag under each worker's lock. */
static int worker_nap(struct thr *t) {
  if (!atomic_load(&parked)) return nap(t);
  pthread_mutex_lock(&t->mu);
  while (!t->stop && !t->ms && atomic_load(&parked)) pthread_cond_wait(&t->cv, &t->mu);
  int stop = t->stop;
  pthread_mutex_unlock(&t->mu);
  return stop;
}

static void set_parked(int on) {
  for (int i = 0; i < npool; i++) {
    pthread_mutex_lock(&pool[i]->mu);
    atomic_store(&parked, on);
    pthread_cond_signal(&pool[i]->cv);
    pthread_mutex_unlock(&pool[i]->mu);
  }
  atomic_store(&parked, on);
}

static void *worker(void *arg) {
  struct thr *t = arg;
  hello(t);
  if (stagger(t)) return NULL;
  while (!worker_nap(t)) {
    long ms = __atomic_exchange_n(&t->ms, 0, __ATOMIC_SEQ_CST);
    if (ms) { burn(ms); sem_post(&t->done); }
  }
  return NULL;
}

static void *burster(void *arg) {
  struct thr *t = arg;
  hello(t);
  struct timespec end = deadline(t->ms);
  long left;
  while ((left = ms_left(end)) > 0) {
    struct timespec ts = { 0, (left < tick_ms ? left : tick_ms) * 1000000L };
    nanosleep(&ts, NULL);
  }
  free(t);
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

/* Starts with the process's name (no pthread_setname_np before it runs), renames itself later. */
static void *late_burster(void *arg) {
  struct thr *t = arg;
  t->tid = gettid();
  sem_post(&started);
  sleep_ms(t->name_ms);
  prctl(PR_SET_NAME, "worker");
  sleep_ms(t->ms > t->name_ms ? t->ms - t->name_ms : 0);
  free(t);
  return NULL;
}

/* block: one system call on a descriptor, from a thread named like QEMU's pool workers. */
static char block_call[16];
static void *blocker(void *arg) {
  struct thr *t = arg;
  hello(t);
  int fd = (int)t->ms;
  char buf[4096];
  if (!strcmp(block_call, "read")) (void)!read(fd, buf, sizeof buf);
  else if (!strcmp(block_call, "pread")) (void)!pread(fd, buf, sizeof buf, 0);
  else if (!strcmp(block_call, "fsync")) fsync(fd);
  else {
    sg_io_hdr_t hdr = {.interface_id = 'S'};
    ioctl(fd, SG_IO, &hdr);
  }
  return NULL;
}

static struct thr *spawn(const char *name, void *(*fn)(void *), long ms) {
  struct thr *t = calloc(1, sizeof *t);
  if (!t) die("calloc");
  snprintf(t->name, NAME_LEN, "%s", name);
  t->ms = ms;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cv, &ca);
  pthread_mutex_init(&t->mu, NULL);
  sem_init(&t->done, 0, 0);
  int err = pthread_create(&t->th, &attr, fn, t);
  if (err) { errno = err; die("pthread_create"); }
  return t;
}

static void await_started(int n) { while (n-- > 0) while (sem_wait(&started) && errno == EINTR) {} }

static void await_gone(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", tid);
  while (access(path, F_OK) == 0) { struct timespec ts = { 0, 1000000L }; nanosleep(&ts, NULL); }
}

static void set_workers(int n) {
  int from = npool;
  for (; npool < n; npool++) pool[npool] = spawn("worker", worker, 0);
  await_started(n - from);
  while (npool > n) {
    struct thr *t = pool[--npool];
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    await_gone(t->tid);   /* join returns before the kernel drops the task */
    free(t);
  }
}

static void print_tids(void) {
  printf("%d=%s", getpid(), "qemu-system-x86");
  for (int i = 0; i < nfixed; i++) printf("\t%d=%s", fixed[i]->tid, fixed[i]->name[0] ? fixed[i]->name : "qemu-system-x86");
  for (int i = 0; i < npool; i++) printf("\t%d=%s", pool[i]->tid, pool[i]->name);
  printf("\n");
}

static void command(char *line) {
  long a = 0, b = 0, c = 0;
  if (sscanf(line, "lateburst %ld %ld %ld", &a, &b, &c) == 3 && a >= 0 && b > 0 && c >= 0) {
    for (long i = 0; i < a; i++) {
      struct thr *t = calloc(1, sizeof *t);
      if (!t) die("calloc");
      t->ms = b;
      t->name_ms = c;
      int err = pthread_create(&t->th, &attr, late_burster, t);
      if (err) { errno = err; die("pthread_create"); }
    }
    await_started((int)a);
    printf("ok %ld\n", a);
  } else if (sscanf(line, "workers %ld", &a) == 1 && a >= 0 && a + nfixed < MAX_THREADS) {
    set_workers((int)a);
    printf("ok %d\n", npool);
  } else if (sscanf(line, "burst %ld %ld", &a, &b) == 2 && a >= 0 && b > 0) {
    for (long i = 0; i < a; i++) spawn("worker", burster, b);
    await_started((int)a);
    printf("ok %ld\n", a);
  } else if (sscanf(line, "spin %ld", &a) == 1 && a > 0) {
    if (!npool) { printf("error no workers\n"); return; }
    struct thr *t = pool[0];
    pthread_mutex_lock(&t->mu);
    t->ms = a;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    while (sem_wait(&t->done) && errno == EINTR) {}
    printf("ok\n");
  } else if (!strncmp(line, "open ", 5)) {
    int fd = open(line + 5, O_RDWR);
    if (fd < 0) printf("error open %s: %s\n", line + 5, strerror(errno));
    else printf("ok %d\n", fd);
  } else if (sscanf(line, "block %15s %ld %ld", block_call, &a, &b) == 3 && a >= 0 && b > 0) {
    for (long i = 0; i < b; i++) spawn("worker", blocker, a);
    await_started((int)b);
    printf("ok %ld\n", b);
  } else if (sscanf(line, "park %ld", &a) == 1 && (a == 0 || a == 1)) {
    set_parked((int)a);
    printf("ok park %ld\n", a);
  } else if (strcmp(line, "tids") == 0) {
    print_tids();
  } else if (strcmp(line, "quit") == 0) {
    printf("bye\n");
    exit(0);
  } else {
    printf("error unknown command: %s\n", line);
  }
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  sem_init(&started, 0, 0);
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 * 1024);

  const char *env = getenv("FAKE_QEMU_TICK_MS");
  if (env && atol(env) > 0) tick_ms = atol(env);
  env = getenv("FAKE_QEMU_WORKERS");
  int workers = env ? atoi(env) : 0;

  int vcpus = 1;
  const char *accel = "KVM";
  char names[64][NAME_LEN];
  int niothreads = 0;
  for (int i = 1; i + 1 < argc; i++) {
    const char *opt = argv[i], *val = argv[i + 1];
    if (!strcmp(opt, "-name")) debug_threads = strstr(val, "debug-threads=on") != NULL;
    else if (!strcmp(opt, "-smp")) vcpus = atoi(val);
    else if (!strcmp(opt, "-accel") && !strncmp(val, "tcg", 3)) accel = "TCG";
    else if (!strcmp(opt, "-object") && !strncmp(val, "iothread,", 9) && niothreads < 64) {
      const char *id = strstr(val, "id=");
      if (id) snprintf(names[niothreads++], NAME_LEN, "IO %.*s", (int)strcspn(id + 3, ","), id + 3);
    }
  }

  env = getenv("FAKE_QEMU_PARKED");
  atomic_store(&parked, env && !strcmp(env, "1"));
  env = getenv("FAKE_QEMU_NAME_RCU");
  fixed[nfixed++] = spawn(env && !strcmp(env, "1") ? "call_rcu" : "", idler, 0);
  char name[32];
  for (int i = 0; i < vcpus && nfixed < 1024; i++) {
    snprintf(name, sizeof name, "CPU %d/%s", i, accel);
    fixed[nfixed++] = spawn(name, idler, 0);
  }
  for (int i = 0; i < niothreads; i++) fixed[nfixed++] = spawn(names[i], idler, 0);
  fixed[nfixed++] = spawn("IO mon_iothread", idler, 0);
  await_started(nfixed);
  set_workers(workers);
  printf("ready\n");

  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    command(line);
  }
  return 0;
}
