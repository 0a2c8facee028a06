#!/usr/bin/perl
# Registration, login, /auth/me and the shapes and codes of api.md; the
# registration modes; the audit rows of each state change.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $s = Mam::Stack->new;
$s->start;

my $PW = 'correct horse battery';
my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
my $TIME = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

sub register { $s->api(POST => '/auth/register', $_[0]) }
sub bad_request {
    my ($r, $field, $what) = @_;
    is($r->{status}, 400, "$what is 400")
        or diag($r->{content});
    is($r->{json}{error}, 'invalid_request', '... invalid_request');
    like($r->{json}{message} // '', qr/^\Q$field\E: /, "... naming $field")
        if defined $field;
}

# --- the first user is an active admin -------------------------------------
my $r = register({ email => '  Alice@Example.COM ', password => $PW,
                   display_name => '  Alice  ' });
is($r->{status}, 201, 'first registration is 201');
my $alice = $r->{json}{user};
is_deeply([ sort keys %{ $r->{json} } ], ['user'], 'the body is {user}');
is_deeply([ sort keys %$alice ],
          [qw(created_at display_name email id roles status)],
          'user has exactly the fields of api.md');
like($alice->{id}, $UUID, 'id is a UUID');
is($alice->{email}, 'alice@example.com', 'email is trimmed and lower-cased');
is($alice->{display_name}, 'Alice', 'display_name is trimmed');
is($alice->{status}, 'active', 'the first user is active');
is_deeply($alice->{roles}, ['admin'], '... and admin');
like($alice->{created_at}, $TIME, 'created_at is RFC 3339 UTC');
like($s->psql("SELECT password_hash FROM users WHERE id = '$alice->{id}'"),
     qr/^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1\$/, 'the password is stored as an Argon2id encoded hash');
my ($m, $t) = $s->psql("SELECT password_hash FROM users WHERE id = '$alice->{id}'")
    =~ /m=(\d+),t=(\d+)/;
ok($m >= 19456 && $t >= 2, "... with m=$m KiB >= 19456 and t=$t >= 2");

# --- later users are editors; email is unique regardless of case ------------
$r = register({ email => 'bob@example.com', password => $PW, display_name => 'Bob' });
is($r->{status}, 201, 'second registration is 201');
my $bob = $r->{json}{user};
is_deeply($bob->{roles}, ['editor'], 'later users are editors');
is($bob->{status}, 'active', '... active when registration is open');

$r = register({ email => 'BOB@example.com', password => $PW, display_name => 'B2' });
is($r->{status}, 409, 'the same email in another case is 409');
is($r->{json}{error}, 'conflict', '... conflict');
is($s->psql(q{SELECT count(*) FROM users WHERE lower(email) = 'bob@example.com'}),
   "1\n", '... and no second row');

# --- input validation, before any database work -----------------------------
my %ok = (email => 'carol@example.com', password => $PW, display_name => 'Carol');
bad_request(register({ %ok, email => undef }), 'email', 'email null');
bad_request(register({ %ok, email => 42 }), 'email', 'email as a number');
bad_request(register({ password => $PW, display_name => 'x' }), 'email', 'missing email');
for my $e ('carol', '@example.com', 'carol@', 'carol@example', 'a@b@example.com',
           'carol@.com', 'carol@example.com.', 'car ol@example.com',
           'carol"@example.com', ('x' x 65) . '@example.com',
           'c@' . ('x' x 250) . '.com') {
    bad_request(register({ %ok, email => $e }), 'email', "email '" . substr($e, 0, 30) . "'");
}
bad_request(register({ %ok, display_name => '' }), 'display_name', 'empty display_name');
bad_request(register({ %ok, display_name => '   ' }), 'display_name', 'blank display_name');
bad_request(register({ %ok, display_name => 'x' x 101 }), 'display_name', '101-character display_name');
bad_request(register({ %ok, display_name => ['x'] }), 'display_name', 'display_name as an array');
$r = register({ %ok, display_name => "\x{e9}" x 100 });
is($r->{status}, 201, 'a display_name of 100 non-ASCII characters is accepted');
is($r->{json}{user}{display_name}, "\x{e9}" x 100, '... and kept intact');

my %pw = (email => 'dave@example.com', display_name => 'Dave');
bad_request(register({ %pw, password => 'short1234' }), 'password', '9-character password');
bad_request(register({ %pw, password => 'x' x 257 }), 'password', '257-character password');
bad_request(register({ %pw, password => 'abababababab' }), 'password', 'password with 2 distinct characters');
bad_request(register({ %pw, password => 'my-dave-secret' }), 'password', 'password containing the local part');
bad_request(register({ %pw, password => 'MY-DAVE-SECRET' }), 'password', '... in any case');
bad_request(register({ %pw, password => 1234567890123 }), 'password', 'password as a number');
bad_request(register({ %pw }), 'password', 'missing password');
is(register({ %pw, password => "p\x{e4}ssw\x{f6}rd \x{2603}x" })->{status}, 201,
   'a 10-character non-ASCII password is accepted');

bad_request(register('{"email":'), undef, 'malformed JSON');
bad_request(register('[]'), undef, 'a JSON array');
bad_request(register('{"email":"e\u0000@example.com","password":"x","display_name":"x"}'),
            undef, 'a NUL byte in a string');
$r = $s->api(POST => '/auth/register', '{}', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'a body that is not JSON is 415');
is($r->{json}{error}, 'unsupported_media_type', '... unsupported_media_type');

# SQL metacharacters are data, not SQL
my $evil = q{o'neil"; DROP TABLE users; --@example.com};
$r = register({ email => q{o'neil@example.com}, password => $PW,
                display_name => q{Robert'); DROP TABLE users;--} });
is($r->{status}, 201, 'quotes in email and name are stored');
is($r->{json}{user}{display_name}, q{Robert'); DROP TABLE users;--}, '... verbatim');
bad_request(register({ %ok, email => $evil }), 'email', 'an email with SQL in it');
is($s->psql('SELECT count(*) > 0 FROM users'), "t\n", 'the users table is still there');

# --- login ---------------------------------------------------------------
$r = $s->api(POST => '/auth/login', { email => 'BOB@Example.com', password => $PW });
is($r->{status}, 200, 'login is 200 (email in any case)');
my $login = $r->{json};
is_deeply([ sort keys %$login ],
          [qw(access_token expires_in refresh_token token_type user)],
          'login answers the fields of api.md');
is($login->{token_type}, 'Bearer', 'token_type is Bearer');
is($login->{expires_in}, 900, 'expires_in is 15 minutes by default');
is($login->{user}{id}, $bob->{id}, 'user is the one logged in');
like($login->{refresh_token}, qr/^[A-Za-z0-9_-]{43,}$/, 'the refresh token has at least 256 bits');
like($r->{headers}{'set-cookie'},
     qr/^mam_refresh=\Q$login->{refresh_token}\E; .*HttpOnly/, 'the refresh token is set as the mam_refresh cookie');
for my $attr ('HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/auth') {
    like($r->{headers}{'set-cookie'}, qr/;\s*\Q$attr\E(;|$)/, "... with $attr");
}
is($s->psql(q{SELECT count(*) FROM sessions WHERE refresh_token_hash = '} .
            $login->{refresh_token} . q{'}), "0\n", 'the token itself is not stored');

$r = $s->api(GET => '/auth/me', undef, token => $login->{access_token});
is($r->{status}, 200, '/auth/me with the token is 200');
is_deeply($r->{json}, { user => $bob }, '... {user} of the caller');

for my $case (['wrong password', 'bob@example.com', 'wrong horse battery'],
              ['unknown email', 'nobody@example.com', $PW]) {
    $r = $s->api(POST => '/auth/login', { email => $case->[1], password => $case->[2] });
    is($r->{status}, 401, "$case->[0] is 401");
    is($r->{json}{error}, 'unauthorized', '... unauthorized');
    is($r->{json}{message}, 'invalid email or password', '... with the same message');
}
bad_request($s->api(POST => '/auth/login', { email => 'bob@example.com' }), 'password',
            'login without password');
bad_request($s->api(POST => '/auth/login', { password => $PW }), 'email',
            'login without email');

for my $path ('/auth/me', '/auth/logout', '/api/users') {
    my $m = $path eq '/auth/logout' ? 'POST' : 'GET';
    $r = $s->api($m => $path, $m eq 'POST' ? {} : undef);
    is($r->{status}, 401, "$m $path without a token is 401");
    is($r->{json}{error}, 'unauthorized', '... unauthorized');
}

# --- audit ---------------------------------------------------------------
my $audit = $s->psql(q{SELECT action || ' ' || coalesce(user_id::text, '-') || ' ' || host(ip)
                       FROM audit_log ORDER BY id});
like($audit, qr/^register \Q$alice->{id}\E 127\.0\.0\.1$/m, 'audit: register');
like($audit, qr/^login \Q$bob->{id}\E 127\.0\.0\.1$/m, 'audit: login');
like($audit, qr/^login_failure \Q$bob->{id}\E 127\.0\.0\.1$/m, 'audit: failed login of a known user');
like($audit, qr/^login_failure - 127\.0\.0\.1$/m, 'audit: failed login of an unknown email');

# --- approval and closed modes --------------------------------------------
$s->restart_nginx(registration => 'approval');
$r = register({ email => 'erin@example.com', password => $PW, display_name => 'Erin' });
is($r->{status}, 201, 'approval mode: registration is 201');
is($r->{json}{user}{status}, 'pending', '... and the user is pending');
$r = $s->api(POST => '/auth/login', { email => 'erin@example.com', password => $PW });
is($r->{status}, 403, 'a pending user cannot log in: 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
like($r->{json}{message}, qr/awaits approval/, '... saying the account awaits approval');
$r = $s->api(POST => '/auth/login', { email => 'erin@example.com', password => 'wrong horse!' });
is($r->{status}, 401, '... a wrong password is still 401, not a hint about the status');

$s->restart_nginx(registration => 'closed');
$r = register({ email => 'frank@example.com', password => $PW, display_name => 'Frank' });
is($r->{status}, 403, 'closed mode: registration is 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
is($s->psql(q{SELECT count(*) FROM users WHERE email = 'frank@example.com'}), "0\n",
   '... and nothing is stored');
is($s->api(POST => '/auth/login', { email => 'bob@example.com', password => $PW })->{status},
   200, '... existing users still log in');

# --- the first user is decided once under concurrent registrations ---------
my $s2 = Mam::Stack->new;
$s2->start;
my @answers = parallel_requests($s2->port, [ map {
    { method => 'POST', path => '/auth/register',
      headers => { 'Content-Type' => 'application/json' },
      body => qq({"email":"u$_\@example.com","password":"$PW","display_name":"u$_"}) }
} 1 .. 8 ]);
is(scalar(grep { $_->{status} == 201 } @answers), 8, 'eight concurrent registrations all succeed');
is($s2->psql(q{SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
               WHERE r.name = 'admin'}), "1\n", '... and exactly one of them is admin');

$s->check_error_log;
$s2->check_error_log;
done_testing();
