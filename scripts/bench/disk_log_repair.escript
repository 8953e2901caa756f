#!/usr/bin/env escript
%% disk_log_repair.escript -- disk_log's side of "open after kill -9".
%%
%%   escript disk_log_repair.escript fill BYTES DIR
%%   escript disk_log_repair.escript open DIR
%%
%% fill: log keyless 100-byte lines (as shlog-bench-recover fill writes)
%% into the halt log DIR/bench.LOG, 1,000 per disk_log:log_terms/2 call,
%% until the file holds BYTES more than it did, then print "ready" and
%% keep logging until killed: the runner kills this process with SIGKILL,
%% so the log is never closed and its last write may be torn.
%% open: time disk_log:open/1 of that log with {repair, true}, which
%% scans and repairs a log that was not closed.  Prints:
%% ms messages_after bytes_after repaired_info
-mode(compile).

main(["fill", BytesS, Dir]) ->
    Want = list_to_integer(BytesS),
    File = filename:join(Dir, "bench.LOG"),
    {ok, L} = disk_log:open(opts(File)),
    Pool = [line(I) || I <- lists:seq(0, 999)],
    Start = filelib:file_size(File),
    fill(L, Pool, File, Start + Want, false);
main(["open", Dir]) ->
    File = filename:join(Dir, "bench.LOG"),
    T0 = erlang:monotonic_time(nanosecond),
    R = disk_log:open(opts(File)),
    Ms = (erlang:monotonic_time(nanosecond) - T0) / 1.0e6,
    Info = case R of
               {ok, _} -> "ok";
               {repaired, _, {recovered, Rec}, {badbytes, Bad}} ->
                   io_lib:format("repaired:recovered=~b,badbytes=~b", [Rec, Bad]);
               Other -> io_lib:format("~p", [Other])
           end,
    Size = filelib:file_size(File),
    ok = disk_log:close(bench),
    io:format("~.3f ~b ~s~n", [Ms, Size, Info]);
main(_) ->
    io:format(standard_error,
              "usage: disk_log_repair.escript fill BYTES DIR | open DIR~n", []),
    halt(2).

%% The halt log, internal format, as disk_log.escript opens it.
opts(File) ->
    [{name, bench}, {file, File}, {type, halt}, {format, internal},
     {size, infinity}, {repair, true}].

%% Log batches; say "ready" once the file reached Target, then go on.
fill(L, Pool, File, Target, Said) ->
    ok = disk_log:log_terms(L, Pool),
    Said2 = case Said of
                false ->
                    case filelib:file_size(File) >= Target of
                        true -> io:format("ready~n"), true;
                        false -> false
                    end;
                true -> true
            end,
    fill(L, Pool, File, Target, Said2).

%% Line I: a 12-digit hex counter, filler, newline; 100 bytes.
line(I) ->
    P = pad(integer_to_binary(I, 16), 12),
    Fill = << <<(($a + (J rem 26)))>> || J <- lists:seq(12, 98) >>,
    <<P/binary, Fill/binary, "\n">>.

%% Left-pad with zeros to Len bytes.
pad(B, Len) when byte_size(B) >= Len -> B;
pad(B, Len) -> pad(<<"0", B/binary>>, Len).
