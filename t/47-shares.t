#!/usr/bin/perl
# Review links (issue 22): members who may share (editors and managers of
# the project, admins) make, list, change and revoke links; a guest opens
# /api/r/{token} (passphrase with Argon2id, failed tries limited like
# logins: 429), gives a name, gets a session cookie scoped to that link,
# sees the link's assets and versions only, never an internal comment,
# comments (with a drawing), approves, plays and downloads as the link
# allows; an expired or revoked link answers 410 at once; views and the
# guests' activity are counted and audited; the token is never stored.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);
use JSON::PP;
use Mam::Stack;

# the packaged access log format (conf/conf.d/mam.conf), which cuts the
# tokens of review links out of the paths and the Referer
my ($log_conf) = Mam::Stack->slurp("$Mam::Stack::ROOT/conf/conf.d/mam.conf")
    =~ /# mam access log: begin\n(.*?)# mam access log: end/s;
ok($log_conf, 'the access log format of conf.d/mam.conf is found');
my $s = Mam::Stack->new(http_extra => $log_conf // '',
                        server_extra => "        access_log logs/redacted.log mam;\n");
$s->start;

my $admin = $s->register('admin@example.com');
my %u = map { $_ => $s->register("$_\@example.com", display_name => ucfirst $_) }
        qw(manager editor commenter viewer outsider);
my $M = $u{manager}{access_token};
my $P = $s->api(POST => '/api/projects', { name => 'Client' }, token => $M)->{json}{project}{id};
for my $role (qw(editor commenter viewer)) {
    my $r = $s->api(POST => "/api/projects/$P/members", { user_id => $u{$role}{user}{id}, role => $role },
                    token => $M);
    die "member $role: $r->{status}" unless $r->{status} == 201 || $r->{status} == 200;
}
$u{$_} = $s->login("$_\@example.com") for qw(editor commenter viewer);
my %tok = (map({ $_ => $u{$_}{access_token} } keys %u), admin => $admin->{access_token});

my @assets = map { $s->create_asset($M, project_id => $P, title => "Shot $_") } 1 .. 3;
my ($A1, $A2, $A3) = map { $_->{id} } @assets;
my %ver;
for my $a ($A1, $A2, $A3) {
    my $v = $s->api(POST => '/api/promote', { asset_id => $a }, token => $M)->{json}{version};
    $ver{$a} = [ $v->{id} ];
    $s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 10, "frame_rate": 25}',
                preview_prefix = 'previews/$a/$v->{id}/' WHERE id = '$v->{id}'});
}
# a second version of A1: the link shows the latest only
$s->api(PATCH => "/api/assets/$A1", { staging_key => $s->upload($M, 'second cut') }, token => $M);
my $v2 = $s->api(POST => '/api/promote', { asset_id => $A1 }, token => $M);
ok($v2->{json}{version}{id}, 'A1 gets a second version') or diag($v2->{content});
push @{ $ver{$A1} }, $v2->{json}{version}{id};
my ($A1v1, $A1v2) = @{ $ver{$A1} };
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 10, "frame_rate": 25}',
            preview_prefix = 'previews/$A1/$A1v2/' WHERE id = '$A1v2'});

sub create { $s->api(POST => '/api/shares', $_[1], token => $tok{$_[0]}) }
my $future = '2099-01-01T00:00:00Z';

# --- who may share --------------------------------------------------------------
my %want = (manager => 201, editor => 201, admin => 201, commenter => 403, viewer => 403, outsider => 404);
for my $who (sort keys %want) {
    is(create($who, { asset_ids => [$A3] })->{status}, $want{$who}, "POST /api/shares as $who: $want{$who}");
}
is($s->api(POST => '/api/shares', { asset_ids => [$A3] })->{status}, 401, 'without a token: 401');

# --- bad input ------------------------------------------------------------------
my @bad = (
    [ {}, qr/asset_ids or folder_id/, 'neither assets nor folder' ],
    [ { asset_ids => [] }, qr/^asset_ids: must be an array of 1\.\.100/, 'no assets' ],
    [ { asset_ids => [ 'x' ] }, qr/^asset_ids: /, 'an id that is no UUID' ],
    [ { asset_ids => "$A1" }, qr/^asset_ids: /, 'a string for the array' ],
    [ { asset_ids => [ map { $A1 } 1 .. 101 ] }, qr/^asset_ids: /, '101 assets' ],
    [ { asset_ids => [$A1], folder_id => $A1 }, qr/one of them/, 'both assets and folder' ],
    [ { asset_ids => [$A1], expires_at => 'tomorrow' }, qr/^expires_at: /, 'an expiry that is no time' ],
    [ { asset_ids => [$A1], expires_at => '2001-01-01T00:00:00Z' }, qr/^expires_at: must be in the future/, 'an expiry past' ],
    [ { asset_ids => [$A1], version => 'first' }, qr/^version: /, 'a version that is neither latest nor an id' ],
    [ { asset_ids => [$A1, $A2], version => $A1v1 }, qr/^version: a version is pinned on a link to one asset/,
      'a pinned version with two assets' ],
    [ { asset_ids => [$A2], version => $A1v1 }, qr/^version: not a version of this asset/, 'another asset\'s version' ],
    [ { asset_ids => [$A1], allow_comments => 'yes' }, qr/^allow_comments: must be a boolean/, 'a switch as a string' ],
    [ { asset_ids => [$A1], passphrase => '' }, qr/^passphrase: /, 'an empty passphrase' ],
    [ { asset_ids => [$A1], passphrase => 'x' x 1025 }, qr/^passphrase: /, 'a passphrase of 1025 bytes' ],
);
for my $b (@bad) {
    my $r = create('manager', $b->[0]);
    is($r->{status}, 400, "$b->[2]: 400") or diag($r->{content});
    like($r->{json}{message} // '', $b->[1], "... $b->[2]: the message says why") or diag($r->{content});
}
is(create('manager', { asset_ids => ['00000000-0000-4000-8000-000000000000'] })->{status}, 404,
   'an asset that is none: 404');
my $other = $s->api(POST => '/api/projects', { name => 'Other' }, token => $M)->{json}{project}{id};
my $elsewhere = $s->create_asset($M, project_id => $other, title => 'Elsewhere');
is(create('manager', { asset_ids => [$A1, $elsewhere->{id}] })->{status}, 400, 'assets of two projects: 400');

# --- a link ---------------------------------------------------------------------
my $r = create('editor', { asset_ids => [$A1, $A2], version => 'latest', expires_at => $future,
                           passphrase => 'open sesame', allow_comments => JSON::PP::true,
                           allow_approval => JSON::PP::true, allow_download => JSON::PP::true,
                           show_all_versions => JSON::PP::false });
is($r->{status}, 201, 'an editor makes a link: 201') or diag($r->{content});
my $share = $r->{json}{share};
my ($token) = ($share->{url} // '') =~ m{^/r/([A-Za-z0-9_-]{43})$};
ok($token, 'url: /r/{43-character token} (256 random bits)') or diag($share->{url});
is($share->{passphrase}, JSON::PP::true, 'passphrase: true (the hash is never answered)');
ok(!exists $share->{passphrase_hash} && !exists $share->{token_hash}, 'no hash in the answer');
is($share->{version}, 'latest', 'version: latest');
is($share->{status}, 'active', 'status: active');
like($share->{expires_at}, qr/^2099-01-01T00:00:00(\.000)?Z$/, 'expires_at');
is_deeply([ sort @{ $share->{asset_ids} } ], [ sort $A1, $A2 ], 'asset_ids');
is($s->psql("SELECT token_hash FROM shares WHERE id = '$share->{id}'"), sha256_hex($token) . "\n",
   'only the SHA-256 of the token is stored');
like($s->psql("SELECT passphrase_hash FROM shares WHERE id = '$share->{id}'"), qr/^\$argon2id\$/,
     'the passphrase as an Argon2id hash');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'share_create' AND target_id = '$share->{id}'"),
   "1\n", 'share_create audited');
my $text = $s->psql("SELECT string_agg(details::text, ' ') FROM audit_log") . $s->slurp($s->prefix . '/logs/error.log');
unlike($text, qr/\Q$token\E/, 'the token is in no audit row nor the error log');

# --- members: list, get, edit -----------------------------------------------------
my $list = $s->api(GET => "/api/shares?project=$P&limit=2", undef, token => $M);
is($list->{status}, 200, 'GET /api/shares?project=: 200') or diag($list->{content});
is(scalar @{ $list->{json}{items} }, 2, '... a page of 2');
is($list->{json}{items}[0]{id}, $share->{id}, '... newest first');
ok(!exists $list->{json}{items}[0]{url}, '... without the url (the token is not kept)');
my @all = @{ $list->{json}{items} };
my $cursor = $list->{json}{next_cursor};
while ($cursor) {
    my $p = $s->api(GET => "/api/shares?project=$P&limit=2&cursor=$cursor", undef, token => $M);
    is($p->{status}, 200, '... the next page: 200') or last;
    push @all, @{ $p->{json}{items} };
    $cursor = $p->{json}{next_cursor};
}
is(scalar @all, 4, '... the pages hold every link of the project once (4)');
my %seen; $seen{$_->{id}}++ for @all;
is(scalar keys %seen, 4, '... no link twice');
is($s->api(GET => "/api/shares?project=$P", undef, token => $tok{commenter})->{status}, 403, 'a commenter lists: 403');
is($s->api(GET => "/api/shares?project=$P", undef, token => $tok{outsider})->{status}, 404, 'a non-member lists: 404');
is($s->api(GET => "/api/shares", undef, token => $M)->{status}, 404, 'no project: 404');
is($s->api(GET => "/api/shares?project=$P&cursor=$other", undef, token => $M)->{status}, 400, 'a cursor of nothing: 400');
is($s->api(GET => "/api/shares?project=$P&limit=0", undef, token => $M)->{status}, 400, 'limit 0: 400');
is($s->api(GET => "/api/shares/$share->{id}", undef, token => $tok{viewer})->{status}, 403, 'a viewer gets one: 403');
is($s->api(GET => "/api/shares/$share->{id}", undef, token => $tok{outsider})->{status}, 404, 'a non-member gets one: 404');
my $got = $s->api(GET => "/api/shares/$share->{id}", undef, token => $M);
is($got->{status}, 200, 'a manager gets it: 200');
is_deeply($got->{json}{share}{guests}, [], '... no guest yet');

# --- a guest ----------------------------------------------------------------------
sub guest {
    my ($method, $path, $body, $cookie) = @_;
    return $s->api($method, "/api/r/$token$path", $body, headers => { $cookie ? (Cookie => "mam_guest=$cookie") : () });
}
my $open = guest(GET => '');
is($open->{status}, 200, 'GET /api/r/{token} without a session: 200') or diag($open->{content});
is_deeply($open->{json}, { passphrase => JSON::PP::true, expires_at => $share->{expires_at}, guest => undef },
          '... the passphrase\'s presence only: no asset before the passphrase');
is($s->api(GET => '/api/r/' . ('A' x 43))->{status}, 404, 'an unknown token: 404');
is($s->api(GET => '/api/r/short')->{status}, 404, 'a token of the wrong shape: 404');
is(guest(GET => "/assets/$A1/comments")->{status}, 401, 'comments without a session: 401');
is(guest(POST => '/session', { name => 'Gus' })->{status}, 401, 'a session without the passphrase: 401');
is(guest(POST => '/session', { passphrase => 'open sesame' })->{status}, 400, 'a session without a name: 400');
is(guest(POST => '/session', { passphrase => 'open sesame', name => '   ' })->{status}, 400, 'a blank name: 400');
is(guest(POST => '/session', { passphrase => 'open sesame', name => 'x' x 101 })->{status}, 400, 'a name of 101: 400');
is(guest(POST => '/session', { passphrase => 'open sesame', name => 'Gus', email => 'nope' })->{status}, 400,
   'an e-mail without @: 400');

my $sess = guest(POST => '/session', { passphrase => 'open sesame', name => 'Gus Guest', email => 'gus@client.example' });
is($sess->{status}, 201, 'the right passphrase and a name: 201') or diag($sess->{content});
is($sess->{json}{guest}{name}, 'Gus Guest', '... the guest');
my $set = $sess->{headers}{'set-cookie'} // '';
my ($cookie) = $set =~ /^mam_guest=([A-Za-z0-9_-]{43});/;
ok($cookie, '... a session cookie') or diag($set);
like($set, qr{; Path=/api/r/\Q$token\E(;|$)}, '... scoped to this link\'s API path');
like($set, qr/; HttpOnly/, '... HttpOnly');
like($set, qr/; SameSite=Strict/, '... SameSite=Strict');
like($set, qr/; Max-Age=(\d+)/, '... with a Max-Age');
my ($age) = $set =~ /Max-Age=(\d+)/;
ok($age > 0 && $age <= 30 * 86400, '... of at most 30 days');
is($s->psql("SELECT session_hash FROM share_guests WHERE name = 'Gus Guest'"), sha256_hex($cookie) . "\n",
   'only the SHA-256 of the session is stored');

my $view = guest(GET => '', undef, $cookie);
is($view->{status}, 200, 'the guest opens the link: 200') or diag($view->{content});
my $vj = $view->{json};
is($vj->{guest}{name}, 'Gus Guest', '... as the guest');
is_deeply([ map { $_->{title} } @{ $vj->{assets} } ], ['Shot 1', 'Shot 2'], '... the link\'s assets, not Shot 3');
is_deeply([ map { $_->{id} } @{ $vj->{assets}[0]{versions} } ], [$A1v2], '... the latest version only');
ok(!exists $vj->{assets}[0]{versions}[0]{master_key}, '... without its storage key');
is($vj->{allow_comments}, JSON::PP::true, '... allow_comments');
is($s->psql("SELECT view_count FROM shares WHERE id = '$share->{id}'"), "1\n", 'the view is counted');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'share_view' AND target_id = '$share->{id}'"), "1\n",
   '... and audited (share_view)');

# a cookie of another link, or none of this: nothing
my $r2 = create('manager', { asset_ids => [$A3], allow_comments => JSON::PP::true });
my ($token2) = $r2->{json}{share}{url} =~ m{^/r/(.+)$};
my $other_view = $s->api(GET => "/api/r/$token2", undef, headers => { Cookie => "mam_guest=$cookie" });
is($other_view->{json}{guest}, undef, 'the session does not open another link');
is($s->api(GET => "/api/r/$token2/assets/$A3/comments", undef, headers => { Cookie => "mam_guest=$cookie" })->{status},
   401, '... nor its comments');

# --- what a guest may not reach --------------------------------------------------
is(guest(GET => "/assets/$A3/comments", undef, $cookie)->{status}, 404, 'an asset of the project not in the link: 404');
is(guest(GET => "/assets/$elsewhere->{id}/comments", undef, $cookie)->{status}, 404, 'an asset of another project: 404');
is(guest(POST => '/sign-preview', { asset_id => $A3 }, $cookie)->{status}, 404, 'playing an asset not in the link: 404');
is(guest(POST => '/sign-preview', { asset_id => $A1, version_id => $A1v1 }, $cookie)->{status}, 404,
   'playing a version the link does not show: 404');
is(guest(PUT => "/versions/$ver{$A3}[0]/approval", { status => 'approved' }, $cookie)->{status}, 404,
   'approving a version not in the link: 404');
is(guest(POST => "/assets/$A3/comments", { timestamp_sec => 1, content => 'x' }, $cookie)->{status}, 404,
   'commenting on an asset not in the link: 404');
is($s->api(GET => "/api/assets/$A1", undef, headers => { Cookie => "mam_guest=$cookie" })->{status}, 401,
   'the member API with a guest cookie: 401');

# --- comments: internal ones never reach a guest ----------------------------------
my $pub = $s->api(POST => "/api/assets/$A1/comments", { timestamp_sec => 1, content => 'For the client' }, token => $M);
my $int = $s->api(POST => "/api/assets/$A1/comments", { timestamp_sec => 2, content => 'Internal: budget', internal => JSON::PP::true },
                  token => $M);
is($int->{status}, 201, 'a member writes an internal comment') or diag($int->{content});
is($int->{json}{comment}{internal}, JSON::PP::true, '... internal: true');
is($pub->{json}{comment}{internal}, JSON::PP::false, 'a plain comment: internal false');
my $int_reply = $s->api(POST => "/api/assets/$A1/comments", { parent_id => $pub->{json}{comment}{id}, content => 'Internal reply',
                                                              internal => JSON::PP::true }, token => $M);
my $reply_of_int = $s->api(POST => "/api/assets/$A1/comments", { parent_id => $int->{json}{comment}{id}, content => 'Reply in an internal thread' },
                           token => $M);
is($reply_of_int->{json}{comment}{internal}, JSON::PP::true, 'a reply to an internal thread is internal');
my $old = $s->api(POST => "/api/assets/$A1/comments", { timestamp_sec => 1, content => 'On v1', version_id => $A1v1 }, token => $M);
is($old->{status}, 201, 'a comment on the first version');

my $gc = guest(GET => "/assets/$A1/comments", undef, $cookie);
is($gc->{status}, 200, 'the guest lists comments: 200') or diag($gc->{content});
is_deeply([ map { $_->{content} } @{ $gc->{json}{items} } ], ['For the client'],
          '... no internal comment, no internal reply, none of a version the link does not show');
my $members = $s->api(GET => "/api/assets/$A1/comments", undef, token => $M);
is(scalar(grep { $_->{internal} } @{ $members->{json}{items} }), 3, 'members see the internal ones');
is(guest(POST => "/assets/$A1/comments", { parent_id => $int->{json}{comment}{id}, content => 'peek' }, $cookie)->{status},
   400, 'a guest cannot reply to an internal thread');

# a guest's comment with a drawing
my $drawing = { shapes => [ { type => 'arrow', points => [[0.1, 0.2], [0.5, 0.5]], color => '#ff0000', width => 0.005 } ] };
my $gcm = guest(POST => "/assets/$A1/comments", { timestamp_sec => 3, frame => 75, content => 'Make it bluer',
                                                  annotation => $drawing, internal => JSON::PP::true }, $cookie);
is($gcm->{status}, 201, 'the guest comments with a drawing: 201') or diag($gcm->{content});
my $c = $gcm->{json}{comment};
is($c->{user}, undef, '... user null');
is_deeply($c->{guest}, { id => $c->{guest}{id}, name => 'Gus Guest' }, '... guest {id, name}');
is($c->{internal}, JSON::PP::false, '... never internal (a guest cannot ask for it)');
is($c->{version_id}, $A1v2, '... on the version the link shows');
is_deeply($c->{annotation}{shapes}[0]{points}, [[0.1, 0.2], [0.5, 0.5]], '... with the drawing');
my $greply = guest(POST => "/assets/$A1/comments", { parent_id => $pub->{json}{comment}{id}, content => 'Agreed' }, $cookie);
is($greply->{status}, 201, 'the guest replies to a thread it sees') or diag($greply->{content});
is(guest(POST => "/assets/$A1/comments", { timestamp_sec => 1, content => '' }, $cookie)->{status}, 400,
   'an empty comment: 400');
is(guest(POST => "/assets/$A1/comments", { timestamp_sec => 1, content => 'x', version_id => $A1v1 }, $cookie)->{status},
   400, 'a comment on a version the link does not show: 400');
is(guest(POST => "/assets/$A1/comments", { timestamp_sec => 1, content => 'x', annotation => { shapes => [] } }, $cookie)->{status},
   400, 'a bad drawing: 400');
# members see the guest's comment, and may not edit it
my $mine = $s->api(GET => "/api/assets/$A1/comments", undef, token => $M);
ok((grep { ($_->{guest}{name} // '') eq 'Gus Guest' } @{ $mine->{json}{items} }) == 2, 'members see the guest\'s comments');
is($s->api(PATCH => "/api/comments/$c->{id}", { content => 'changed' }, token => $tok{commenter})->{status}, 403,
   'a commenter cannot edit a guest\'s comment');
is($s->api(POST => "/api/comments/$c->{id}/resolve", undef, token => $tok{commenter})->{status}, 403,
   'a commenter cannot resolve a guest\'s thread');
is($s->api(POST => "/api/comments/$c->{id}/resolve", undef, token => $tok{editor})->{status}, 200,
   'an editor resolves it');

# --- approval, playback, download --------------------------------------------------
my $ap = guest(PUT => "/versions/$A1v2/approval", { status => 'approved', note => 'Lovely' }, $cookie);
is($ap->{status}, 200, 'the guest approves: 200') or diag($ap->{content});
is($ap->{json}{version}{approval}{status}, 'approved', '... approved');
is($ap->{json}{version}{approval}{guest}{name}, 'Gus Guest', '... by the guest');
my $mv = $s->api(GET => "/api/assets/$A1", undef, token => $M)->{json}{asset};
is($mv->{approval}{status}, 'approved', 'members see the asset approved');
is($mv->{approval}{guest}{name}, 'Gus Guest', '... by the guest');
is(guest(PUT => "/versions/$A1v2/approval", { status => 'maybe' }, $cookie)->{status}, 400, 'a bad status: 400');
my $hist = $s->api(GET => "/api/versions/$A1v2/approvals", undef, token => $M);
is($hist->{json}{items}[0]{guest}{name}, 'Gus Guest', 'the history names the guest');

my $sign = guest(POST => '/sign-preview', { asset_id => $A1 }, $cookie);
is($sign->{status}, 200, 'the guest signs playback: 200') or diag($sign->{content});
like($sign->{json}{url} // '', qr{^/s/\d+/[A-Za-z0-9_-]{43}/\Q$A1\E/\Q$A1v2\E/index\.m3u8$},
     '... a signed edge URL of the version the link shows');
is(guest(POST => '/sign-preview', { asset_id => 'x' }, $cookie)->{status}, 400, 'sign with a bad id: 400');
my $dl = guest(POST => "/versions/$A1v2/download", { rendition => 'original' }, $cookie);
is($dl->{status}, 200, 'the guest downloads (the link allows it): 200') or diag($dl->{content});
like($dl->{json}{url} // '', qr{^/s/d/}, '... an edge download URL');

# the link without those rights
my $ro = create('manager', { asset_ids => [$A2] });
my ($rot) = $ro->{json}{share}{url} =~ m{^/r/(.+)$};
my $rs = $s->api(POST => "/api/r/$rot/session", { name => 'Reader' });
is($rs->{status}, 201, 'a link without a passphrase: a name is enough');
my ($rc) = ($rs->{headers}{'set-cookie'} // '') =~ /^mam_guest=([^;]+)/;
sub ro { $s->api($_[0], "/api/r/$rot$_[1]", $_[2], headers => { Cookie => "mam_guest=$rc" }) }
is(ro(POST => "/assets/$A2/comments", { timestamp_sec => 1, content => 'x' })->{status}, 403,
   'comments on a link without allow_comments: 403');
is(ro(PUT => "/versions/$ver{$A2}[0]/approval", { status => 'approved' })->{status}, 403,
   'approval on a link without allow_approval: 403');
is(ro(POST => "/versions/$ver{$A2}[0]/download", { rendition => 'original' })->{status}, 403,
   'a download on a link without allow_download: 403');
is(ro(GET => "/assets/$A2/comments")->{status}, 200, '... it still shows the comments');

# --- edit ---------------------------------------------------------------------------
my $patch = $s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { allow_comments => JSON::PP::true, show_all_versions => JSON::PP::true },
                    token => $tok{editor});
is($patch->{status}, 200, 'an editor edits a link: 200') or diag($patch->{content});
is($patch->{json}{share}{allow_comments}, JSON::PP::true, '... allow_comments on');
is($patch->{json}{share}{allow_download}, JSON::PP::false, '... what is not given is unchanged');
is(ro(POST => "/assets/$A2/comments", { timestamp_sec => 1, content => 'now I may' })->{status}, 201,
   '... the guest may comment at once');
is($s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { allow_comments => JSON::PP::false }, token => $tok{commenter})->{status},
   403, 'a commenter edits: 403');
is($s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { allow_comments => 1 }, token => $M)->{status}, 400,
   'a switch that is no boolean: 400');
is($s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { expires_at => '2000-01-01' }, token => $M)->{status}, 400,
   'an expiry past: 400');
my $pp = $s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { passphrase => 'now secret' }, token => $M);
is($pp->{json}{share}{passphrase}, JSON::PP::true, 'a passphrase added');
is($s->api(POST => "/api/r/$rot/session", { name => 'Late' })->{status}, 401, '... a new guest needs it');
is($s->api(PATCH => "/api/shares/$ro->{json}{share}{id}", { passphrase => undef }, token => $M)->{json}{share}{passphrase},
   JSON::PP::false, 'passphrase null removes it');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'share_update'"), "3\n",
   'share_update audited (the three changes made, not the refusals)');

# --- expiry: 410 at once -------------------------------------------------------------
$s->psql("UPDATE shares SET expires_at = now() - interval '1 second' WHERE id = '$ro->{json}{share}{id}'");
is($s->api(GET => "/api/r/$rot")->{status}, 410, 'an expired link: 410');
is(ro(GET => "/assets/$A2/comments")->{status}, 410, '... its guest\'s requests: 410');
is($s->api(POST => "/api/r/$rot/session", { name => 'Late' })->{status}, 410, '... no new guest: 410');
is($s->api(GET => "/api/shares/$ro->{json}{share}{id}", undef, token => $M)->{json}{share}{status}, 'expired',
   'members see it expired');

# --- revoke: 410 at once ----------------------------------------------------------------
is($s->api(DELETE => "/api/shares/$share->{id}", undef, token => $tok{commenter})->{status}, 403, 'a commenter revokes: 403');
is($s->api(DELETE => "/api/shares/$share->{id}", undef, token => $tok{outsider})->{status}, 404, 'a non-member revokes: 404');
is(guest(GET => '', undef, $cookie)->{status}, 200, 'before the revocation the guest is in');
my $played = $sign->{json}{url};
isnt($s->http(GET => $played)->{status}, 410, 'the guest\'s playback URL is good before');
is($s->api(DELETE => "/api/shares/$share->{id}", undef, token => $M)->{status}, 204, 'a manager revokes: 204');
is(guest(GET => '', undef, $cookie)->{status}, 410, 'the very next request: 410');
is(guest(POST => '/sign-preview', { asset_id => $A1 }, $cookie)->{status}, 410, '... playback: 410');
# the URLs it was handed stop too: its assets' play epochs went up, published
# to Redis before the answer; each edge worker reads them again within
# mam_edge_epoch_ttl (15 s; t/48-revocation.t)
like($s->redis_cli('GET', "mam:play:$A1"), qr/^[1-9]/, '... its asset\'s play epoch is raised in Redis');
my ($t0, $gone) = (time, 0);
until ($gone || time - $t0 > 25) {
    $gone = $s->http(GET => $played)->{status} == 410;
    sleep 0.5 unless $gone;
}
ok($gone, 'the playback URL handed to the guest answers 410 within the bound');
is(guest(PUT => "/versions/$A1v2/approval", { status => 'none' }, $cookie)->{status}, 410, '... approval: 410');
is(guest(POST => "/assets/$A1/comments", { timestamp_sec => 1, content => 'x' }, $cookie)->{status}, 410, '... comments: 410');
is($s->api(DELETE => "/api/shares/$share->{id}", undef, token => $M)->{status}, 204, 'revoking again: 204');
is($s->api(PATCH => "/api/shares/$share->{id}", { allow_comments => JSON::PP::true }, token => $M)->{status}, 410,
   'editing a revoked link: 410');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'share_revoke'"), "1\n", 'share_revoke audited once');

# --- views and per-guest activity ---------------------------------------------------------
my $st = $s->api(GET => "/api/shares/$share->{id}", undef, token => $M)->{json}{share};
is($st->{status}, 'revoked', 'status: revoked');
is($st->{views}, 2, 'views: 2');
ok($st->{last_view_at}, 'last_view_at');
is(scalar @{ $st->{guests} }, 1, 'one guest');
my $g = $st->{guests}[0];
is_deeply([ @$g{qw(name email views comments approvals)} ], ['Gus Guest', 'gus@client.example', 2, 2, 1],
          '... the guest\'s name, e-mail, views, comments and approvals');

# --- a folder's link: the folder's assets when it is opened -----------------------------------
my $F = $s->api(POST => "/api/projects/$P/folders", { name => 'Selects' }, token => $M)->{json}{folder}{id};
my $fl = create('editor', { folder_id => $F });
is($fl->{status}, 201, 'a link to a folder: 201') or diag($fl->{content});
is($fl->{json}{share}{folder_id}, $F, '... folder_id');
is($fl->{json}{share}{asset_ids}, undef, '... asset_ids null');
my ($ft) = $fl->{json}{share}{url} =~ m{^/r/(.+)$};
my ($fc) = ($s->api(POST => "/api/r/$ft/session", { name => 'Fay' })->{headers}{'set-cookie'} // '') =~ /^mam_guest=([^;]+)/;
sub folder_titles { [ map { $_->{title} } @{ $s->api(GET => "/api/r/$ft", undef, headers => { Cookie => "mam_guest=$fc" })->{json}{assets} } ] }
is_deeply(folder_titles(), [], '... an empty folder shows nothing');
is($s->api(PATCH => "/api/assets/$A3", { folder_id => $F }, token => $M)->{status}, 200, 'Shot 3 moves into the folder');
is_deeply(folder_titles(), ['Shot 3'], '... and the link shows it at once');
is($s->api(GET => "/api/r/$ft/assets/$A1/comments", undef, headers => { Cookie => "mam_guest=$fc" })->{status}, 404,
   '... and no asset outside the folder');
is(create('manager', { folder_id => '00000000-0000-4000-8000-000000000000' })->{status}, 404, 'a folder that is none: 404');

# --- wrong passphrases: limited like logins -------------------------------------------------
my $lock = create('manager', { asset_ids => [$A2], passphrase => 'right one' });
my ($lt) = $lock->{json}{share}{url} =~ m{^/r/(.+)$};
for my $i (1 .. 5) {
    my $w = $s->api(POST => "/api/r/$lt/session", { name => 'Mallory', passphrase => "wrong $i" });
    is($w->{status}, 401, "wrong passphrase $i: 401");
}
my $limited = $s->api(POST => "/api/r/$lt/session", { name => 'Mallory', passphrase => 'wrong 6' });
is($limited->{status}, 429, 'the sixth try from the address: 429') or diag($limited->{content});
ok(($limited->{headers}{'retry-after'} // 0) > 0, '... with Retry-After');
is($s->api(POST => "/api/r/$lt/session", { name => 'Mallory', passphrase => 'right one' })->{status}, 429,
   '... even the right one is refused then');
my $link_key = 'mam:rl:share:' . sha256_hex($lt);
is($s->redis_cli('GET', $link_key), "5\n", 'the link\'s own counter counts every address\'s failures');
is($s->api(POST => "/api/r/$token2/session", { name => 'Other' })->{status}, 201,
   'another link is not limited by them');

# the access log: the requests are there, the tokens are not
my $log = $s->slurp($s->prefix . '/logs/redacted.log') // '';
like($log, qr{"GET /api/r/-/assets/[0-9a-f-]{36}/comments HTTP/1\.1" 200}, 'the access log has the guests\' requests');
unlike($log, qr/\Q$token\E|\Q$lt\E|\Q$token2\E/, '... but no token of a link');
unlike($log, qr/\Q$cookie\E/, '... nor a session');
my $ref = $s->api(GET => "/api/r/$lt", undef, headers => { Referer => $s->url("/r/$lt") });
# (nginx writes the line after the answer is sent: wait for it)
my $logged = '';
for (1 .. 20) {
    $logged = $s->slurp($s->prefix . '/logs/redacted.log') // '';
    last if $logged =~ m{"http://127\.0\.0\.1:\d+/r/-"};
    sleep 0.1;
}
like($logged, qr{"http://127\.0\.0\.1:\d+/r/-"}, 'a Referer of the guest\'s page is cut too');
unlike($s->slurp($s->prefix . '/logs/redacted.log'), qr/\Q$lt\E/, '... its token gone');
$s->check_error_log;

done_testing;
