#!/usr/bin/perl
# Time-coded comments: order, shapes, bounds (content, timestamp, the
# version's duration), version_id, who may delete, audit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

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
is_deeply([ sort keys %$c ], [qw(asset_id content created_at id timestamp_sec user version_id)],
          'comment has the fields of api.md');
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
is_deeply([ sort keys %{ $r->{json} } ], ['items'], '... {items}');
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

like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'comment_create'}), qr/^1\d$/m,
     'comment creation is audited');
is($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'comment_delete'}), "2\n",
   'comment deletion is audited');
is($s->psql(qq{SELECT details->>'author' FROM audit_log WHERE action = 'comment_delete'
               AND target_id = '$theirs'}), "$eve->{user}{id}\n", '... with the author');

$s->check_error_log;
done_testing();
