#!/usr/bin/perl
# Retention (issue 15): housekeeping deletes sessions (refresh tokens)
# expired for more than mam_session_retention and audit rows older than
# mam_audit_retention, in batches; by default sessions go after 30 days
# and the audit log is kept.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

# sessions of $email expired $ago ago, $n of them, jti "$tag-<n>"
sub old_sessions {
    my ($s, $email, $tag, $n, $ago) = @_;
    $s->psql(qq{INSERT INTO sessions (user_id, family_id, jti, refresh_token_hash,
                                      expires_at, created_at)
                SELECT u.id, gen_random_uuid(), '$tag-' || g, '$tag-hash-' || g,
                       now() - interval '$ago', now() - interval '$ago' - interval '30 days'
                  FROM users u, generate_series(1, $n) g
                 WHERE u.email = '$email'});
}

sub count_like {
    my ($s, $table, $column, $tag) = @_;
    my ($n) = $s->psql("SELECT count(*) FROM $table WHERE $column LIKE '$tag-%'") =~ /(\d+)/;
    return $n;
}

# audit rows $ago old, $n of them, action "$tag"
sub old_audit {
    my ($s, $tag, $n, $ago) = @_;
    $s->psql(qq{INSERT INTO audit_log (at, action, target_type, target_id)
                SELECT now() - interval '$ago', '$tag', 'test', '$tag-' || g
                  FROM generate_series(1, $n) g});
}

# --- the defaults: sessions expired for 30 days go, the audit log stays ----
{
    my $s = Mam::Stack->new(workers => 1, housekeeping_interval => '300ms');
    $s->start;
    my $u = $s->register('admin@example.com');

    old_sessions($s, 'admin@example.com', 'ancient', 3, '31 days');
    old_sessions($s, 'admin@example.com', 'recent', 3, '29 days');
    old_audit($s, 'ten_years', 3, '3650 days');

    $s->wait_until(sub { count_like($s, 'sessions', 'jti', 'ancient') == 0 }, 10,
                   'sessions expired for 31 days deleted');
    pass('by default, sessions expired for more than 30 days are deleted');
    sleep 1;    # a few more runs
    is(count_like($s, 'sessions', 'jti', 'recent'), 3, '... those expired for 29 days stay');
    is(count_like($s, 'audit_log', 'target_id', 'ten_years'), 3,
       'by default the audit log keeps its rows (mam_audit_retention off)');
    is($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'audit_purge'}), "0\n",
       '... and records no purge');
    is($s->api(POST => '/auth/refresh', { refresh_token => $u->{refresh_token} })->{status}, 200,
       'a live session still refreshes');
    like($s->error_log_text, qr/housekeeping: deleted 3 expired sessions/,
         'housekeeping logs how many sessions it deleted');

    # the batches' WHERE clauses are served by indexes
    like($s->psql(q{SET enable_seqscan = off; EXPLAIN SELECT id FROM sessions
                     WHERE expires_at < now() - interval '1 hour' ORDER BY expires_at LIMIT 1000}),
         qr/sessions_expires_idx/, 'expired sessions are found through an index');
    like($s->psql(q{SET enable_seqscan = off; EXPLAIN SELECT id FROM audit_log
                     WHERE at < now() - interval '1 day' ORDER BY at LIMIT 1000}),
         qr/audit_log_at_idx/, 'old audit rows are found through an index');
    $s->check_error_log;
}

# --- short retentions, more rows than one batch --------------------------
{
    my $s = Mam::Stack->new(workers => 1, housekeeping_interval => '300ms',
                            session_retention => '1h', audit_retention => '1d');
    $s->start;
    my $u = $s->register('admin@example.com');

    # rotated and revoked tokens are kept as long as unexpired ones
    my $r = $s->api(POST => '/auth/refresh', { refresh_token => $u->{refresh_token} });
    is($r->{status}, 200, 'a refresh rotates');

    old_sessions($s, 'admin@example.com', 'gone', 2500, '2 hours');
    old_sessions($s, 'admin@example.com', 'kept', 3, '30 minutes');
    old_audit($s, 'old', 2345, '2 days');
    old_audit($s, 'young', 3, '12 hours');

    $s->wait_until(sub { count_like($s, 'sessions', 'jti', 'gone') == 0
                         && $s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'old'}) eq "0\n" },
                   20, 'old sessions and audit rows deleted');
    pass('sessions expired for more than mam_session_retention are deleted, several batches of them');
    pass('audit rows older than mam_audit_retention are deleted, several batches of them');
    sleep 1;
    is(count_like($s, 'sessions', 'jti', 'kept'), 3, 'sessions expired for less stay');
    is($s->psql(q{SELECT count(*) FROM sessions WHERE expires_at > now()}), "2\n",
       'unexpired sessions stay, the rotated one too (reuse detection)');
    is($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'young'}), "3\n",
       'younger audit rows stay');
    ok($s->psql(q{SELECT count(*) FROM audit_log WHERE action IN ('register', 'login')}) =~ /^[1-9]/,
       "... the stack's own fresh rows too");
    is($s->psql(q{SELECT details->>'deleted' || ' ' || (details->>'retention')
                    FROM audit_log WHERE action = 'audit_purge'}), "2345 86400\n",
       'the purge is audited once, with its count and retention');
    like($s->error_log_text, qr/housekeeping: deleted 2500 expired sessions/,
         'housekeeping logs the sessions of all its batches');
    like($s->error_log_text, qr/housekeeping: deleted 2345 old audit rows/,
         '... and the audit rows');
    is($s->api(POST => '/auth/refresh', { refresh_token => $r->{json}{refresh_token} })->{status}, 200,
       'the live session still refreshes');
    is($s->api(POST => '/auth/refresh', { refresh_token => $u->{refresh_token} })->{status}, 401,
       '... and the rotated token is still recognized as reuse');
    $s->check_error_log;
}

done_testing();
