/* `postern serve [-c FILE] [-v]`: parse the arguments, run the daemon
 * (daemon/daemon.c). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

#include "../daemon/daemon.h"

int cli_serve(int argc, char **argv)
{
    const char *cpath = NULL;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt(argc, argv, "c:v")) != -1) {
        switch (c) {
        case 'c': cpath = optarg; break;
        case 'v': verbose++; break;
        default:
            fprintf(stderr, "usage: postern serve [-c FILE] [-v]\n");
            return 2;
        }
    }
    return daemon_run(cli_config_path(cpath), verbose);
}
