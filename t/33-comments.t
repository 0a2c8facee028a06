#!/usr/bin/perl
# Time-coded comments: order, shapes, bounds (content, timestamp, the
# version's duration), version_id, frames and version numbers (issue 20),
# pages (limit, signed cursors), who may delete, audit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;
use Mam::Keys qw(purpose_key);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url decode_base64url);

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com', display_name => 'Ed');
my $eve = $s->register('eve@example.com');
my $vic = $s->register('vic@example.com', display_name => 'Vic');
$s->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] }, token => $admin->{access_token});
$vic = $s->login('vic@example.com');
my ($A, $E, $EVE, $V) = map { $_->{access_token} } $admin, $ed, $eve, $vic;

my $asset = $s->create_asset($E);
my $id = $asset->{id};
my $v1 = $s->api(POST => '/api/promote', { asset_id => $id }, token => $E)->{json}{version};
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 12.5}' WHERE id = '$v1->{id}'});
my $other = $s->create_asset($E, title => 'Other');
my $ov = $s->api(POST => '/api/promote', { asset_id => $other->{id} }, token => $E)->{json}{version};

sub post { $s->api(POST => "/api/assets/$_[0]/comments", $_[1], token => $_[2] // $E) }
sub list { $s->api(GET => "/api/assets/$_[0]/comments", undef, token => $_[1] // $V) }

my $r = post($id, { timestamp_sec => 3.25, content => 'Nice cut' });
is($r->{status}, 201, 'POST comment is 201');
my $c = $r->{json}{comment};
is_deeply([ sort keys %$c ], [qw(annotation asset_id content created_at duration_frames duration_sec edited_at
                                  frame guest id internal parent_id reply_count resolved_at resolved_by
                                  timestamp_sec user version_id version_number)],
          'comment has the fields of api.md, frame and version_number, those of the review (t/45) and of '
          . 'review links (guest, internal: t/47)');
is($c->{frame}, undef, 'no frame sent: none stored (never derived)');
is($c->{version_number}, 1, 'version_number is the version\'s number');
is_deeply($c->{user}, { id => $ed->{user}{id}, display_name => 'Ed' }, 'user {id, display_name}');
is($c->{timestamp_sec}, 3.25, 'timestamp_sec is a number');
is($c->{version_id}, $v1->{id}, 'version_id defaults to the latest version');
is($c->{asset_id}, $id, 'asset_id');

$r = post($id, { timestamp_sec => 1, content => 'viewers comment too' }, $V);
is($r->{status}, 201, 'a viewer may comment');
post($id, { timestamp_sec => 10, content => 'late' });
post($id, { timestamp_sec => 1, content => 'same second, later' });
post($id, { timestamp_sec => 0, content => 'start', version_id => $v1->{id} });
post($id, { timestamp_sec => 1.0004, content => 'rounded to ms' });

$r = list($id);
is($r->{status}, 200, 'GET comments is 200 for a viewer');
is_deeply([ sort keys %{ $r->{json} } ], [qw(items next_cursor)], '... {items, next_cursor}');
is($r->{json}{next_cursor}, undef, '... next_cursor null at the end');
is_deeply([ map { $_->{content} } @{ $r->{json}{items} } ],
          ['start', 'viewers comment too', 'same second, later', 'rounded to ms', 'Nice cut', 'late'],
          'ordered by timestamp_sec, then created_at');
is($r->{json}{items}[3]{timestamp_sec}, 1, 'timestamps keep millisecond precision (1.0004 -> 1.000)');

# --- bounds --------------------------------------------------------------
sub bad {
    my ($body, $field, $what) = @_;
    my $r = post($id, $body);
    is($r->{status}, 400, "$what is 400") or diag($r->{content});
    like($r->{json}{message} // '', qr/^\Q$field\E: /, "... naming $field");
}
bad({ content => 'x' }, 'timestamp_sec', 'missing timestamp_sec');
bad({ timestamp_sec => -1, content => 'x' }, 'timestamp_sec', 'a negative timestamp');
bad({ timestamp_sec => '5', content => 'x' }, 'timestamp_sec', 'a timestamp as a string');
bad({ timestamp_sec => JSON::PP::true, content => 'x' }, 'timestamp_sec', 'a boolean timestamp');
bad({ timestamp_sec => undef, content => 'x' }, 'timestamp_sec', 'a null timestamp');
bad({ timestamp_sec => 1e10, content => 'x' }, 'timestamp_sec', 'a huge timestamp');
bad({ timestamp_sec => 12.6, content => 'x' }, 'timestamp_sec', 'a timestamp after the duration');
is(post($id, { timestamp_sec => 12.5, content => 'the very end' })->{status}, 201,
   'a timestamp equal to the duration is fine');
bad({ timestamp_sec => 1 }, 'content', 'missing content');
bad({ timestamp_sec => 1, content => '' }, 'content', 'empty content');
bad({ timestamp_sec => 1, content => " \n\t " }, 'content', 'blank content');
bad({ timestamp_sec => 1, content => 'x' x 4001 }, 'content', '4001 characters');
bad({ timestamp_sec => 1, content => "a\x01b" }, 'content', 'a control character');
bad({ timestamp_sec => 1, content => 42 }, 'content', 'numeric content');
is(post($id, { timestamp_sec => 1, content => "\x{e9}" x 4000 })->{status}, 201,
   '4000 two-byte characters are accepted');
is(post($id, { timestamp_sec => 1, content => "line one\nline two" })->{status}, 201,
   'line breaks are kept');
bad({ timestamp_sec => 1, content => 'x', version_id => $ov->{id} }, 'version_id',
    'a version of another asset');
bad({ timestamp_sec => 1, content => 'x', version_id => 'nope' }, 'version_id', 'a malformed version_id');

# --- frames and version numbers (issue 20) --------------------------------
# v1 has no frame rate yet: any frame in bounds goes
$r = post($id, { timestamp_sec => 2, content => 'frame 48', frame => 48 });
is($r->{status}, 201, 'a frame is accepted');
is($r->{json}{comment}{frame}, 48, '... stored and answered as an integer');
for my $f (-1, 1e9, 2.5, '12', JSON::PP::true, [1], { n => 1 }) {
    bad({ timestamp_sec => 1, content => 'x', frame => $f }, 'frame',
        'frame ' . (ref $f ? JSON::PP->new->allow_nonref->encode($f) : "'$f'"));
}
is(post($id, { timestamp_sec => 1, content => 'null frame', frame => undef })->{json}{comment}{frame}, undef,
   'a null frame is no frame');
is(post($id, { timestamp_sec => 1, content => 'max frame', frame => 999999999 })->{status}, 201,
   'frame 999999999 is the bound');
ok(!eval { $s->psql(qq{INSERT INTO comments (asset_id, user_id, timestamp_sec, content, frame)
                       VALUES ('$id', '$ed->{user}{id}', 0, 'x', -1)}); 1 },
   'the table refuses a negative frame');
# with a measured rate the frame must be the one at timestamp_sec (within one)
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 12.5, "frame_rate": 29.97}'
            WHERE id = '$v1->{id}'});
$r = post($id, { timestamp_sec => 4.02, content => 'at 29.97', frame => 120 });
is($r->{status}, 201, 'the frame at timestamp_sec at 29.97 fps is accepted');
is(post($id, { timestamp_sec => 4.02, content => 'next', frame => 121 })->{status}, 201,
   '... and its neighbour (the seconds are rounded to the millisecond)');
bad({ timestamp_sec => 4.02, content => 'x', frame => 200 }, 'frame', 'a frame far from timestamp_sec');
like(post($id, { timestamp_sec => 4.02, content => 'x', frame => 118 })->{json}{message} // '',
     qr/29\.970/, '... naming the frame rate');
$s->psql(qq{UPDATE versions SET metadata = '{"duration_sec": 12.5}' WHERE id = '$v1->{id}'});

# a second version: each comment carries the number of its own version
my $v2key = $s->upload($E, 'second master', filename => 'v2.mp4');
is($s->api(PATCH => "/api/assets/$id", { staging_key => $v2key }, token => $E)->{status}, 200,
   'a new version is staged');
my $v2 = $s->api(POST => '/api/promote', { asset_id => $id }, token => $E)->{json}{version};
is($v2->{number}, 2, '... and promoted as v2');
$r = post($id, { timestamp_sec => 1, content => 'on v2', frame => 3 });
is($r->{json}{comment}{version_number}, 2, 'a comment on the latest version says 2');
is($r->{json}{comment}{version_id}, $v2->{id}, '... with its version_id');
$r = post($id, { timestamp_sec => 1, content => 'on v1', version_id => $v1->{id} });
is($r->{json}{comment}{version_number}, 1, 'a comment on v1 says 1');
my %num = map { $_->{content} => $_->{version_number} }
          @{ $s->api(GET => "/api/assets/$id/comments?limit=100", undef, token => $V)->{json}{items} };
is_deeply([ @num{'on v2', 'on v1', 'Nice cut', 'frame 48'} ], [2, 1, 1, 1],
          'the list carries every comment\'s version number');
is($s->psql(qq{SELECT count(*) FROM comments WHERE item::jsonb->>'version_number' IS NULL
               AND version_id IS NOT NULL}), "0\n", 'every item has its version number');

my $evil = q{'); DELETE FROM comments; --};
$r = post($id, { timestamp_sec => 2, content => $evil });
is($r->{json}{comment}{content}, $evil, 'SQL metacharacters are stored verbatim');

# an asset without versions: no version, no duration bound
my $bare = $s->create_asset($E, title => 'No versions');
$r = post($bare->{id}, { timestamp_sec => 99999, content => 'no duration known' });
is($r->{status}, 201, 'without a version any timestamp goes');
is($r->{json}{comment}{version_id}, undef, '... and version_id is null');

is(post('5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a', { timestamp_sec => 1, content => 'x' })->{status}, 404,
   'commenting on an unknown asset is 404');
is(list('5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a')->{status}, 404, 'listing comments of an unknown asset is 404');
is(list('nope')->{status}, 400, 'a malformed asset id is 400');
my $gone = $s->create_asset($E, title => 'Gone');
$s->api(DELETE => "/api/assets/$gone->{id}", undef, token => $E);
is(list($gone->{id})->{status}, 404, 'comments of a deleted asset are 404');
is($s->api(GET => "/api/assets/$id/comments")->{status}, 401, 'no token: 401');

# --- pages: limit and signed cursors, as for assets ---------------------------
my $long = $s->create_asset($E, title => 'Long')->{id};
# 3 statements, so that created_at ties (one statement, one now()) and
# timestamp_sec ties both meet page boundaries and id decides
for my $n (1 .. 3) {
    $s->psql(qq{INSERT INTO comments (asset_id, user_id, timestamp_sec, content)
                SELECT '$long', '$ed->{user}{id}', (g % 7) * 1.5, 'c$n-' || g
                  FROM generate_series(1, 20) g});
}
my @order = split /\n/, $s->psql(qq{SELECT content FROM comments WHERE asset_id = '$long'
                                    ORDER BY timestamp_sec, created_at, id});
is(scalar(@order), 60, '60 comments on one asset');
sub page { $s->api(GET => "/api/assets/$_[0]/comments$_[1]", undef, token => $V) }
$r = page($long, '');
is($r->{status}, 200, 'a long list is 200');
is(scalar(@{ $r->{json}{items} }), 24, '... 24 comments by default, as assets');
ok($r->{json}{next_cursor}, '... with a cursor to the rest');
is(scalar(@{ page($long, '?limit=100')->{json}{items} }), 60, 'limit=100 gives all 60');
is(page($long, '?limit=100')->{json}{next_cursor}, undef, '... and no cursor');
for my $limit (1, 7, 59, 60) {
    my (@paged, $cursor, $pages, $ok);
    $ok = 1;
    do {
        my $r = page($long, "?limit=$limit" . ($cursor ? "&cursor=$cursor" : ''));
        $ok &&= $r->{status} == 200 && @{ $r->{json}{items} } <= $limit;
        push @paged, map { $_->{content} } @{ $r->{json}{items} };
        $cursor = $r->{json}{next_cursor};
        $pages++;
    } while ($cursor && $pages < 100);
    ok($ok, "limit=$limit: every page is 200 with at most $limit comments");
    is_deeply(\@paged, \@order, "limit=$limit: the pages are the list, in order, each comment once");
}
$r = page($long, '?limit=7');
my $c7 = $r->{json}{next_cursor};
$s->psql(qq{INSERT INTO comments (asset_id, user_id, timestamp_sec, content)
            VALUES ('$long', '$ed->{user}{id}', 0, 'new at the start')});
is_deeply([ map { $_->{content} } @{ page($long, "?limit=7&cursor=$c7")->{json}{items} } ],
          [ @order[7 .. 13] ], 'a comment added before the cursor does not shift the next page');
for my $bad ('limit=0', 'limit=101', 'limit=abc', 'limit=-1', 'limit=', 'cursor=abc.def', 'cursor=') {
    $r = page($long, "?$bad");
    is($r->{status}, 400, "$bad is 400");
    like($r->{json}{message} // '', qr/^(limit|cursor): /, '... naming it');
}
is(page($id, "?cursor=$c7")->{status}, 400, "a cursor of another asset's comments is 400");
my $ac = $s->api(GET => '/api/assets?limit=1', undef, token => $V)->{json}{next_cursor};
ok($ac, 'an asset list cursor');
is(page($long, "?cursor=$ac")->{status}, 400, '... is 400 for comments');
is($s->api(GET => "/api/assets?limit=1&cursor=$c7", undef, token => $V)->{status}, 400,
   'a comments cursor is 400 for the asset list');
{
    my ($enc, $sig) = $c7 =~ /^([^.]+)\.(.+)$/;
    my $msg = "mam-cursor\n" . decode_base64url($enc);
    my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
    is($sig, encode_base64url(hmac_sha256($msg, purpose_key($key, 'cursor'))),
       'comment cursors are signed with the cursor key');
    for my $k (['the signing key itself', $key], map { ["the $_ key", purpose_key($key, $_)] } qw(edge upload tus)) {
        my $forged = "$enc." . encode_base64url(hmac_sha256($msg, $k->[1]));
        is(page($long, "?limit=7&cursor=$forged")->{status}, 400, "a cursor signed with $k->[0] is 400");
    }
    # a cursor pointing elsewhere: right shape, signed with another key
    my $payload = decode_base64url($enc) =~ s/\n[^\n]*$/\n0.000 1970-01-01T00:00:00.000000Z/r;
    my $moved = encode_base64url($payload) . '.' . encode_base64url(hmac_sha256("mam-cursor\n$payload", purpose_key($key, 'edge')));
    is(page($long, "?cursor=$moved")->{status}, 400, 'a forged key is 400');
    substr(my $tampered = $c7, 3, 1) = substr($c7, 3, 1) eq 'A' ? 'B' : 'A';
    is(page($long, "?cursor=$tampered")->{status}, 400, 'a tampered cursor is 400');
}

# --- delete ------------------------------------------------------------------
my $mine = post($id, { timestamp_sec => 4, content => 'mine' })->{json}{comment}{id};
my $theirs = post($id, { timestamp_sec => 5, content => 'theirs' }, $EVE)->{json}{comment}{id};
is($s->api(DELETE => "/api/comments/$theirs", undef, token => $E)->{status}, 403,
   "deleting someone else's comment is 403");
is($s->api(DELETE => "/api/comments/$mine", undef, token => $V)->{status}, 403, '... for a viewer too');
is($s->api(DELETE => "/api/comments/$mine", undef, token => $E)->{status}, 204, 'the author deletes: 204');
is($s->api(DELETE => "/api/comments/$mine", undef, token => $E)->{status}, 404, '... then it is 404');
is($s->api(DELETE => "/api/comments/$theirs", undef, token => $A)->{status}, 204, 'an admin deletes any: 204');
is($s->api(DELETE => '/api/comments/nope', undef, token => $A)->{status}, 400, 'a malformed id is 400');
ok(!grep({ $_->{content} =~ /^(mine|theirs)$/ } @{ list($id)->{json}{items} }), 'deleted comments are gone');

like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'comment_create'}), qr/^2\d$/m,
     'comment creation is audited');
is($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'comment_delete'}), "2\n",
   'comment deletion is audited');
is($s->psql(qq{SELECT details->>'author' FROM audit_log WHERE action = 'comment_delete'
               AND target_id = '$theirs'}), "$eve->{user}{id}\n", '... with the author');

$s->check_error_log;
done_testing();
