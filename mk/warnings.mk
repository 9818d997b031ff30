# The warning flags every C file of twinprobe is compiled with (STYLE.md, 9), defined
# once. Included by the top Makefile, tests/fuzz/fuzz.mk (both run from the top
# directory), bench/Makefile, bench/stats/Makefile and bench/redis/Makefile.
WARNINGS := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Werror
