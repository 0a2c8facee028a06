#!/usr/bin/perl
# Access tokens (HS256 pinned, every claim checked) and refresh tokens
# (rotation through sessions, reuse revokes the family, logout).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256 hmac_sha512 sha256_hex);
use JSON::PP;
use MIME::Base64 qw(encode_base64url decode_base64url);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $JSON = JSON::PP->new->canonical;
my $key = $s->slurp($s->data_dir . '/secrets/jwt.key');
$key =~ s/\s+$//;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');

sub me { $s->api(GET => '/auth/me', undef, token => $_[0]) }

sub unauthorized {
    my ($token, $what) = @_;
    my $r = me($token);
    is($r->{status}, 401, "$what: 401");
    is($r->{json}{error}, 'unauthorized', '... unauthorized JSON');
}

sub part { encode_base64url($JSON->encode($_[0])) }

sub jwt {
    my ($claims, %o) = @_;
    my $h = part($o{header} // { alg => 'HS256', typ => 'JWT' });
    my $input = "$h." . part($claims);
    my $sig = $o{sig} // ($o{hs512} ? hmac_sha512($input, $o{key} // $key)
                                    : hmac_sha256($input, $o{key} // $key));
    return "$input." . encode_base64url($sig);
}

my ($h, $p, $sig) = split /\./, $ed->{access_token};
my $claims = decode_json(decode_base64url($p));
is_deeply(decode_json(decode_base64url($h)), { alg => 'HS256', typ => 'JWT' },
          'the header is HS256');
is_deeply([ sort keys %$claims ], [qw(av exp iat jti roles sid sub)],
          'claims: sub, sid, jti, iat, exp, av, roles');
is($claims->{sub}, $ed->{user}{id}, 'sub is the user id');
is($claims->{exp} - $claims->{iat}, 900, 'exp is 15 minutes after iat');
is_deeply($claims->{roles}, ['editor'], 'roles are the user\'s');

# our own signing reproduces a token the module accepts
is(me(jwt($claims))->{status}, 200, 'a token built with the key is accepted (the harness signs right)');

my $now = time;
unauthorized(jwt($claims, header => { alg => 'none', typ => 'JWT' }, sig => ''),
             'alg none without signature');
unauthorized(jwt($claims, header => { alg => 'none', typ => 'JWT' }), 'alg none with an HS256 signature');
unauthorized(jwt($claims, header => { alg => 'HS512', typ => 'JWT' }, hs512 => 1),
             'HS512 signed with the right key');
unauthorized(jwt($claims, header => { alg => 'HS384', typ => 'JWT' }), 'alg HS384');
unauthorized(jwt($claims, header => { alg => 'RS256', typ => 'JWT' }), 'alg RS256');
unauthorized(jwt($claims, key => 'x' x 64), 'signed with another key');
unauthorized(jwt({ %$claims, exp => $now - 1 }), 'past exp');
unauthorized(jwt({ %$claims, exp => undef }), 'null exp');
my %noexp = %$claims; delete $noexp{exp};
unauthorized(jwt(\%noexp), 'missing exp');
unauthorized(jwt({ %$claims, exp => "$claims->{exp}" }), 'exp as a string');
unauthorized(jwt({ %$claims, iat => $now + 3600 }), 'iat in the future');
unauthorized(jwt({ %$claims, sub => 'not-a-uuid' }), 'sub not a UUID');
for my $c (qw(sub sid jti av roles iat)) {
    my %x = %$claims; delete $x{$c};
    unauthorized(jwt(\%x), "missing $c");
}
unauthorized(jwt({ %$claims, roles => ['superuser'] }), 'an unknown role');

# tampering with a real token
my $tampered = part({ %$claims, roles => ['admin'] });
unauthorized("$h.$tampered.$sig", 'payload changed (roles: admin), signature kept');
my $flip = $sig;
substr($flip, 5, 1) = substr($flip, 5, 1) eq 'A' ? 'B' : 'A';
unauthorized("$h.$p.$flip", 'one signature character changed');
unauthorized("$h.$p." . substr($sig, 0, -2), 'signature truncated');
unauthorized("$h.$p.", 'signature empty');
unauthorized("$h.$p", 'two parts');
unauthorized("$h.$p.$sig.x", 'four parts');
unauthorized('', 'empty token');
unauthorized('a' x 5000, 'a 5000-byte token');
unauthorized("$h.$p.$sig~", 'a character outside base64url after the signature');

for my $auth ("Basic $ed->{access_token}", "Bearer", "Bearer  $ed->{access_token}x",
              "bearer$ed->{access_token}") {
    my $r = $s->api(GET => '/auth/me', undef, headers => { Authorization => $auth });
    is($r->{status}, 401, "Authorization '" . substr($auth, 0, 12) . "...' is 401");
}
# a token is never taken from the query string (events use tickets)
my $r = $s->api(GET => "/auth/me?access_token=$ed->{access_token}");
is($r->{status}, 401, '?access_token= is not accepted on other routes');

# --- refresh: body and cookie, rotation ---------------------------------
sub refresh_body { $s->api(POST => '/auth/refresh', { refresh_token => $_[0] }) }
sub refresh_cookie {
    $s->api(POST => '/auth/refresh', undef, headers => { Cookie => "other=1; mam_refresh=$_[0]" })
}

my $t0 = $ed->{refresh_token};
$r = refresh_body($t0);
is($r->{status}, 200, 'refresh with the body field is 200');
is_deeply([ sort keys %{ $r->{json} } ],
          [qw(access_token expires_in refresh_token token_type user)], '... the login shape');
my $t1 = $r->{json}{refresh_token};
isnt($t1, $t0, '... with a new refresh token');
like($r->{headers}{'set-cookie'}, qr/^mam_refresh=\Q$t1\E;/, '... also set as cookie');
is(me($r->{json}{access_token})->{status}, 200, '... and a working access token');

my $row = $s->psql(q{SELECT s.jti, s.replaced_by_jti, s.revoked_at IS NOT NULL, n.parent_jti
                     FROM sessions s JOIN sessions n ON n.jti = s.replaced_by_jti
                     WHERE s.refresh_token_hash = '} . sha256_hex($t0) . q{'});
my ($jti0, $replaced, $revoked, $parent) = split /\|/, $row =~ s/\n//r;
ok($revoked eq 't', 'the presented session is revoked')
    or diag("row: $row; hashes: " . $s->psql('SELECT refresh_token_hash FROM sessions'));
is($parent, $jti0, 'the new session has parent_jti = the old jti');
ok($replaced, 'the old session has replaced_by_jti');

$r = refresh_cookie($t1);
is($r->{status}, 200, 'refresh with the mam_refresh cookie is 200');
my $t2 = $r->{json}{refresh_token};
my $access2 = $r->{json}{access_token};

for my $bad ('', 'x', 'A' x 43, $t2 . 'x', 'A' x 5000) {
    $r = refresh_body($bad);
    is($r->{status}, 401, 'refresh with a made-up token (' . length($bad) . ' chars) is 401');
    is($r->{json}{error}, 'unauthorized', '... unauthorized');
}
$r = $s->api(POST => '/auth/refresh', {});
is($r->{status}, 401, 'refresh without body token or cookie is 401');
$r = $s->api(POST => '/auth/refresh', { refresh_token => 42 });
is($r->{status}, 400, 'refresh_token as a number is 400');

# --- reuse revokes the whole family ------------------------------------
$r = refresh_body($t0);
is($r->{status}, 401, 'presenting a rotated token again is 401');
$r = refresh_body($t2);
is($r->{status}, 401, "... and the legitimate holder's newest token stops working too");
is($s->psql(q{SELECT count(*) FROM sessions WHERE user_id = '} . $ed->{user}{id}
            . q{' AND revoked_at IS NULL}), "0\n", '... every session of the family is revoked');
like($s->psql(q{SELECT action FROM audit_log WHERE action = 'refresh_reuse'}),
     qr/refresh_reuse/, '... and the reuse is audited');

# another family (another login) is not touched
my $l2 = $s->login('ed@example.com');
my $l3 = $s->login('ed@example.com');
is(refresh_body($l2->{refresh_token})->{status}, 200, 'a separate login refreshes on its own');
is(refresh_body($l2->{refresh_token})->{status}, 401, '... its reuse revokes its family');
is(refresh_body($l3->{refresh_token})->{status}, 200, '... but not the other login\'s family');

# expired refresh token
my $l4 = $s->login('ed@example.com');
$s->psql(q{UPDATE sessions SET expires_at = now() - interval '1 second' WHERE refresh_token_hash = '}
         . sha256_hex($l4->{refresh_token}) . q{'});
is(refresh_body($l4->{refresh_token})->{status}, 401, 'an expired refresh token is 401');

# --- logout ----------------------------------------------------------------
my $a1 = $s->login('ed@example.com');
my $a2 = $s->login('ed@example.com');
$r = $s->api(POST => '/auth/logout', {}, token => $a1->{access_token});
is($r->{status}, 204, 'logout is 204');
is($r->{content} // '', '', '... with no body');
like($r->{headers}{'set-cookie'} // '', qr/^mam_refresh=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/,
     '... and clears the cookie');
is(refresh_body($a1->{refresh_token})->{status}, 401, 'the logged-out session cannot refresh');
is(refresh_body($a2->{refresh_token})->{status}, 200, 'another session of the user still can');

my $b1 = $s->login('ed@example.com');
my $b2 = $s->login('ed@example.com');
$r = $s->api(POST => '/auth/logout', { all => JSON::PP::true }, token => $b1->{access_token});
is($r->{status}, 204, 'logout {"all": true} is 204');
is(refresh_body($b2->{refresh_token})->{status}, 401, '... and every session of the user is revoked');
is(refresh_body($admin->{refresh_token})->{status}, 200, "... other users' sessions are not");
is($s->api(POST => '/auth/logout', { all => 'yes' }, token => $b1->{access_token})->{status},
   400, 'logout with all as a string is 400');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'logout'}), qr/^[2-9]/,
     'logouts are audited');

$s->check_error_log;
done_testing();
