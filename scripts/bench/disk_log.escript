#!/usr/bin/env escript
%% disk_log.escript -- the Erlang disk_log comparison for shlog-bench-core.
%%
%%   escript disk_log.escript one|batch N S K DIR
%%
%% Logs N messages of S bytes (the same lines as shlog-bench-core: S-1
%% bytes and a newline; with K > 0 keyed "k<5 digits>\t...", key chosen
%% as I*7919 rem K) into a fresh halt log of internal format in DIR, one
%% at a time with disk_log:log/2 ("one") or 1,000 at a time with
%% disk_log:log_terms/2 ("batch"), then disk_log:sync/1 and close/1.
%% Messages come from a pool built before the clock starts, so the timed
%% section is the logging only.  Prints: msgs/s MB/s seconds.
-mode(compile).

main([Mode, NS, SS, KS, Dir]) ->
    N = list_to_integer(NS),
    S = list_to_integer(SS),
    K = list_to_integer(KS),
    Pool = pool(S, K),
    File = filename:join(Dir, "bench.LOG"),
    _ = file:delete(File),
    {ok, L} = disk_log:open([{name, bench}, {file, File}, {type, halt},
                             {format, internal}, {size, infinity}]),
    T0 = erlang:monotonic_time(nanosecond),
    ok = run(list_to_atom(Mode), L, Pool, K, N),
    ok = disk_log:sync(L),
    ok = disk_log:close(L),
    Sec = (erlang:monotonic_time(nanosecond) - T0) / 1.0e9,
    io:format("~b ~.1f ~.3f~n", [round(N / Sec), N * S / 1.0e6 / Sec, Sec]);
main(_) ->
    io:format(standard_error, "usage: disk_log.escript one|batch N S K DIR~n", []),
    halt(2).

%% The messages: K keyed lines, or 1,000 keyless ones.
pool(S, 0) ->
    list_to_tuple([line(integer_to_binary(I, 16), 12, S) || I <- lists:seq(0, 999)]);
pool(S, K) ->
    list_to_tuple([line(<<"k", (pad(integer_to_binary(I), 5))/binary, "\t">>, 7, S)
                   || I <- lists:seq(0, K - 1)]).

%% Prefix, filler up to S-1 bytes, newline.
line(Prefix, PLen, S) ->
    P = pad(Prefix, PLen),
    Fill = << <<(($a + (I rem 26)))>> || I <- lists:seq(byte_size(P), S - 2) >>,
    <<P/binary, Fill/binary, "\n">>.

%% Left-pad with zeros to Len bytes.
pad(B, Len) when byte_size(B) >= Len -> B;
pad(B, Len) -> pad(<<"0", B/binary>>, Len).

%% Message I of the pool.
msg(Pool, 0, I) -> element(1 + I rem 1000, Pool);
msg(Pool, K, I) -> element(1 + (I * 7919) rem K, Pool).

run(one, L, Pool, K, N) -> one(L, Pool, K, 0, N);
run(batch, L, Pool, K, N) -> batch(L, Pool, K, 0, N).

%% One disk_log:log/2 call per message.
one(_L, _Pool, _K, N, N) -> ok;
one(L, Pool, K, I, N) ->
    ok = disk_log:log(L, msg(Pool, K, I)),
    one(L, Pool, K, I + 1, N).

%% disk_log:log_terms/2 with 1,000 messages per call.
batch(_L, _Pool, _K, I, N) when I >= N -> ok;
batch(L, Pool, K, I, N) ->
    Last = min(I + 1000, N) - 1,
    ok = disk_log:log_terms(L, [msg(Pool, K, J) || J <- lists:seq(I, Last)]),
    batch(L, Pool, K, Last + 1, N).
