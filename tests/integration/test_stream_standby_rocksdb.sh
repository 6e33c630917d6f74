#!/usr/bin/env bash
# Standby replicas of RocksDB window stores: test_stream_standby_windows.sh with
# default.dsl.store=rocksDB (each lane keeps its copies in <state dir>/standby-<lane>; a takeover
# moves a copy's directory into the task's place and opens it there).
SL_STANDBY_STORE=rocksDB exec bash "$(dirname "$0")/test_stream_standby_windows.sh"
