# /etc/profile.d/fks-infra.sh: managed by fks-infra; do not edit.
# No core dumps from login shells; an idle interactive shell ends after 15 minutes (an
# operator's forgotten root shell). Non-interactive commands (deploys) are not affected.
ulimit -c 0
TMOUT=900
readonly TMOUT
export TMOUT
