/* static_tls.c: a program with a large static TLS block (a thread-local array of 1 MiB, as
 * some runtimes have) and many threads, run with tieralloc preloaded: tieralloc's own TLS
 * (a few pointers, initial-exec) must coexist with it, in the main thread and in new ones. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char big[1 << 20];

static void *work(void *arg) {
  big[12345] = (char)(long)arg;
  void *v[500];
  for (int i = 0; i < 500; i++) v[i] = malloc((size_t)(i * 97 % 5000) + 1);
  for (int i = 0; i < 500; i++) free(v[i]);
  return big[12345] == (char)(long)arg ? NULL : (void *)1;
}

int main(void) {
  memset(big, 7, sizeof(big));
  pthread_t t[16];
  for (long i = 0; i < 16; i++)
    if (pthread_create(&t[i], NULL, work, (void *)i) != 0) return 1;
  for (int i = 0; i < 16; i++) {
    void *r;
    pthread_join(t[i], &r);
    if (r) return 1;
  }
  printf("static TLS of 1 MiB beside tieralloc in 17 threads: PASS\n");
  return big[0] == 7 ? 0 : 1;
}
