# Runs "$@" (a server under test) in this script's process group and stops the whole group once stdin
# closes: the test process holds the other end of that pipe, so when it ends in any way (done, a panic,
# a throw, even SIGKILL) no server outlives it. With REMOVE_ON_EXIT set, that directory (the server's
# state) is deleted once the group is stopped. Used by tests/api/helpers.rs and
# clients/typescript/test/server.mjs, each starting it as `bash tests/guard.sh <command>...` in a new
# process group.
trap '' TERM
"$@" </dev/null &
cat >/dev/null
kill -TERM -- -$$ 2>/dev/null
sleep 2
[ -n "$REMOVE_ON_EXIT" ] && rm -rf -- "$REMOVE_ON_EXIT"
kill -KILL -- -$$ 2>/dev/null
