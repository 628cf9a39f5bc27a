// Round-robin launcher timing: runs each command once per round, N rounds, and prints the median
// and quartiles per command; interleaving keeps a noisy machine's drift out of the comparison.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  int rounds=atoi(argv[1]),warm=20; char**cmds[32]; const char*names[32]; int n=0;
  for(int i=2;i<argc;){names[n]=argv[i]; cmds[n]=&argv[i+1]; int j=i+1; while(j<argc&&strcmp(argv[j],"--"))j++; argv[j<argc?j:argc-0]=NULL; n++; i=j+1;}
  double*t=calloc((size_t)n*rounds,sizeof(double)); int devnull=open("/dev/null",O_WRONLY);
  for(int r=-warm;r<rounds;r++) for(int c=0;c<n;c++){
    double a=now(); pid_t p=fork();
    if(!p){dup2(devnull,1);dup2(devnull,2);execvp(cmds[c][0],cmds[c]);_exit(127);}
    int st; waitpid(p,&st,0); double b=now();
    if(!WIFEXITED(st)||WEXITSTATUS(st)){fprintf(stderr,"%s failed: %d\n",names[c],st);return 1;}
    if(r>=0)t[c*rounds+r]=b-a;}
  for(int c=0;c<n;c++){double*x=&t[c*rounds];qsort(x,rounds,sizeof(double),cmp);
    printf("%s: median %.2f ms (quartiles %.2f–%.2f)\n",names[c],x[rounds/2],x[rounds/4],x[3*rounds/4]);}
  return 0;}
