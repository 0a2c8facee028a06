#!/usr/bin/perl
# Assets: create from one's own complete upload, get, update, soft delete,
# the list (search with prefix matching, keyset pagination with server-
# issued cursors, three sorts) and the authorization matrix of api.md.
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
my $vic = $s->register('vic@example.com');
$s->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] }, token => $admin->{access_token});
$vic = $s->login('vic@example.com');
my ($A, $E, $EVE, $V) = map { $_->{access_token} } $admin, $ed, $eve, $vic;

sub create { $s->api(POST => '/api/assets', $_[0], token => $_[1] // $E) }

# --- create -----------------------------------------------------------------
my $key = $s->upload($E, 'some media');
my $r = create({ title => 'Sunset over the bay', description => 'Golden hour', staging_key => $key });
is($r->{status}, 201, 'POST /api/assets is 201');
my $asset = $r->{json}{asset};
is_deeply([ sort keys %$asset ],
          [qw(approval created_at description fields folder_id id latest_version owner project_id tags title
              updated_at)],
          'asset has the fields of api.md (and approval, issue 21)');
is_deeply($asset->{owner}, { id => $ed->{user}{id}, display_name => 'Ed' }, 'owner {id, display_name}');
is($asset->{latest_version}, undef, 'latest_version is null before a promote');
is($asset->{description}, 'Golden hour', 'description kept');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'asset_create'}), qr/^1$/m,
     'asset creation is audited');

is(create({ title => 'Again', staging_key => $key })->{status}, 409,
   'the same upload for a second asset is 409');
$r = create({ title => 'Theirs', staging_key => $key }, $EVE);
is($r->{status}, 403, "someone else's upload is 403");
is(create({ title => 'Theirs', staging_key => $key }, $A)->{status}, 403, '... for an admin too');
my $ghost = 'uploads/' . $ed->{user}{id} . '/5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a/x.mp4';
$r = create({ title => 'Ghost', staging_key => $ghost });
is($r->{status}, 400, 'an unknown staging key is 400');
my $pending = $s->api(POST => '/api/presign', { filename => 'p.mp4', content_type => 'video/mp4', size => 5 },
                      token => $E)->{json}{staging_key};
$r = create({ title => 'Pending', staging_key => $pending });
is($r->{status}, 400, 'an upload not yet complete is 400');
like($r->{json}{message}, qr/not complete/, '... saying so');
is(create({ title => 'V', staging_key => $s->upload($E, 'x') }, $V)->{status}, 403,
   'a viewer cannot create assets');

for my $case ([{ staging_key => $key }, 'title', 'missing title'],
              [{ title => '', staging_key => $key }, 'title', 'empty title'],
              [{ title => '   ', staging_key => $key }, 'title', 'blank title'],
              [{ title => 'x' x 201, staging_key => $key }, 'title', '201-character title'],
              [{ title => 5, staging_key => $key }, 'title', 'numeric title'],
              [{ title => 'ok', description => 'd' x 5001, staging_key => $key }, 'description', 'long description'],
              [{ title => 'ok' }, 'staging_key', 'missing staging_key'],
              [{ title => 'ok', staging_key => '../etc/passwd' }, 'staging_key', 'traversal in staging_key'],
              [{ title => 'ok', staging_key => 'masters/a/v1/original.mp4' }, 'staging_key', 'a master key'],
              [{ title => 'ok', staging_key => 'uploads//x' }, 'staging_key', 'empty segment']) {
    $r = create($case->[0]);
    is($r->{status}, 400, "$case->[2] is 400");
    like($r->{json}{message} // '', qr/^\Q$case->[1]\E: /, "... naming $case->[1]");
}
$r = create({ title => "\x{1F3AC}" x 200, staging_key => $s->upload($E, 'emoji') });
is($r->{status}, 201, 'a title of 200 emoji is accepted');

# --- get, update, delete ----------------------------------------------------
my $id = $asset->{id};
$r = $s->api(GET => "/api/assets/$id", undef, token => $V);
is($r->{status}, 200, 'GET /api/assets/:id is 200 for a viewer');
is_deeply([ sort keys %{ $r->{json} } ], [qw(asset versions)], '... {asset, versions}');
is_deeply($r->{json}{versions}, [], '... no versions yet');
is($s->api(GET => '/api/assets/5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a', undef, token => $V)->{status},
   404, 'an unknown asset is 404');
is($s->api(GET => '/api/assets/nope', undef, token => $V)->{status}, 400, 'a malformed id is 400');
is($s->api(GET => "/api/assets/$id")->{status}, 401, 'no token: 401');

$r = $s->api(PATCH => "/api/assets/$id", { title => "Sunset o'er the bay; DROP TABLE assets" }, token => $E);
is($r->{status}, 200, 'PATCH by the owner is 200');
is($r->{json}{asset}{title}, "Sunset o'er the bay; DROP TABLE assets", '... title changed verbatim');
is($r->{json}{asset}{description}, 'Golden hour', '... description untouched');
is($s->api(PATCH => "/api/assets/$id", { description => 'by admin' }, token => $A)->{status}, 200,
   'PATCH by an admin is 200');
is($s->api(PATCH => "/api/assets/$id", { title => 'mine now' }, token => $EVE)->{status}, 403,
   'PATCH by another editor is 403');
is($s->api(PATCH => "/api/assets/$id", { title => 'mine now' }, token => $V)->{status}, 403,
   'PATCH by a viewer is 403');
is($s->api(PATCH => "/api/assets/$id", {}, token => $E)->{status}, 400, 'PATCH with nothing to change is 400');
is($s->api(PATCH => "/api/assets/$id", { title => '' }, token => $E)->{status}, 400, 'PATCH with an empty title is 400');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'asset_update'}), qr/^2$/m,
     'updates are audited');

my $doomed = $s->create_asset($E, title => 'Doomed');
mkdir $s->data_dir . "/storage/previews";
mkdir $s->data_dir . "/storage/previews/$doomed->{id}";
$s->write_file($s->data_dir . "/storage/previews/$doomed->{id}/master.m3u8", '#EXTM3U');
is($s->api(DELETE => "/api/assets/$doomed->{id}", undef, token => $EVE)->{status}, 403,
   'DELETE by another editor is 403');
is($s->api(DELETE => "/api/assets/$doomed->{id}", undef, token => $V)->{status}, 403,
   'DELETE by a viewer is 403');
$r = $s->api(DELETE => "/api/assets/$doomed->{id}", undef, token => $E);
is($r->{status}, 204, 'DELETE by the owner is 204');
ok(!-e $s->data_dir . "/storage/previews/$doomed->{id}", '... its previews are removed');
is($s->api(GET => "/api/assets/$doomed->{id}", undef, token => $E)->{status}, 404,
   '... it is gone from GET');
isnt($s->psql("SELECT deleted_at FROM assets WHERE id = '$doomed->{id}'"), "\n",
     '... but the row stays (soft delete)');
is($s->api(DELETE => "/api/assets/$doomed->{id}", undef, token => $E)->{status}, 404,
   'deleting it again is 404');
my $d2 = $s->create_asset($EVE, title => 'By admin');
is($s->api(DELETE => "/api/assets/$d2->{id}", undef, token => $A)->{status}, 204, 'an admin may delete any asset');

# --- the list: search, sorts, keyset pagination ---------------------------
my @titles = ('Alpha river', 'beta Mountain', 'Gamma river delta', 'delta Dawn', 'Epsilon');
my %made;
for my $t (@titles) { $made{$t} = $s->create_asset($E, title => $t, description => "about $t")->{id} }

sub list {
    my ($q) = @_;
    my $r = $s->api(GET => "/api/assets$q", undef, token => $V);
    return $r;
}
sub titles { map { $_->{title} } @{ $_[0]{json}{items} } }

$r = list('');
is($r->{status}, 200, 'GET /api/assets is 200 for a viewer');
is_deeply([ sort keys %{ $r->{json} } ], [qw(items next_cursor)], '... {items, next_cursor}');
is($r->{json}{next_cursor}, undef, '... next_cursor null at the end');
ok(!grep({ $_ eq 'Doomed' } titles($r)), 'deleted assets are not listed');
is((titles($r))[0], 'Epsilon', 'default sort is newest first');

is_deeply([ sort(titles(list('?q=river'))) ], ['Alpha river', 'Gamma river delta'], 'q matches words');
is_deeply([ sort(titles(list('?q=riv'))) ], ['Alpha river', 'Gamma river delta'], 'q matches prefixes');
is_deeply([ sort(titles(list('?q=RIV+gam'))) ], ['Gamma river delta'], 'every word must match, any case');
is_deeply([ sort(titles(list('?q=mount'))) ], ['beta Mountain'], 'q matches the title');
is_deeply([ sort(titles(list('?q=about+epsil'))) ], ['Epsilon'], 'q matches the description too');
is_deeply([ titles(list('?q=zzz')) ], [], 'no match: no items');
is(list('?q=%27%3B%20DROP%20TABLE%20assets%3B--')->{status}, 200, 'SQL in q is harmless');
is(list('?q=a%26b%7C!c%3A*')->{status}, 200, 'tsquery operators in q are harmless');
is(list('?q=' . ('x' x 201))->{status}, 400, 'a q over 200 bytes is 400');
is(list('?q=%00')->{status}, 400, 'a NUL byte in q is 400');
is(list('?q=%C3%28')->{status}, 400, 'invalid UTF-8 in q is 400');
# at most 8 words (each one a prefix scan), counted as the tsquery splits q
is_deeply([ titles(list('?q=gam+riv+del+g+r+d+ga+ri')) ], ['Gamma river delta'], 'q with 8 words is fine');
is(list('?q=%20%20gam%2C%2C+riv+++del+-+g+r+d+ga+ri%20')->{status}, 200, '... separators alone are no words');
$r = list('?q=' . join('+', ('a') x 9));
is($r->{status}, 400, 'q with 9 words is 400');
is($r->{json}{error}, 'invalid_request', '... invalid_request');
like($r->{json}{message} // '', qr/^q: at most 8 words/, '... naming q and the cap');
is(list('?q=a-b.c:d%26e%7Cf!g*h(i')->{status}, 400, '... words split by punctuation count too');
is(list('?q=' . join('+', ('ab') x 60))->{status}, 400, 'q with 60 words is 400');
is_deeply([ titles(list('?q=--+%2C&limit=100')) ], [ titles(list('?limit=100')) ],
          'a q of no word lists as if there were no q');
{   # a search a page at a time, in each sort
    for my $sort ('title', 'created_at', '-created_at') {
        my ($cursor, @paged, $pages) = ('');
        do {
            my $r = list("?q=river&limit=1&sort=$sort$cursor");
            push @paged, titles($r);
            $cursor = $r->{json}{next_cursor} ? "&cursor=$r->{json}{next_cursor}" : '';
        } while ($cursor && ++$pages < 10);
        is_deeply([ sort @paged ], ['Alpha river', 'Gamma river delta'],
                  "sort=$sort: a search one item a page finds each match once");
    }
}

my @sorted = sort { $a cmp $b } map { $_->{title} } @{ list('?limit=100&sort=title')->{json}{items} };
is_deeply([ titles(list('?limit=100&sort=title')) ], [ @sorted ], 'sort=title');
my @asc = titles(list('?limit=100&sort=created_at'));
is_deeply([ reverse @asc ], [ titles(list('?limit=100&sort=-created_at')) ],
          'sort=created_at is the reverse of -created_at');

for my $sort ('title', 'created_at', '-created_at') {
    my @all = titles(list("?limit=100&sort=$sort"));
    my (@paged, $cursor, $pages);
    do {
        my $r = list("?limit=2&sort=$sort" . ($cursor ? "&cursor=$cursor" : ''));
        push @paged, titles($r);
        $cursor = $r->{json}{next_cursor};
        $pages++;
        # inserts while paging must not shift the pages
        $s->create_asset($E, title => "Inserted $sort $pages") if $pages == 1;
    } while ($cursor && $pages < 50);
    my %seen;
    my @dups = grep { $seen{$_}++ } @paged;
    is_deeply(\@dups, [], "sort=$sort: pages of 2 never repeat an asset");
    my @missing = grep { my $t = $_; !grep { $_ eq $t } @paged } @all;
    is_deeply(\@missing, [], "... and miss none of those there at the start");
}

my $c = list('?limit=1&sort=title')->{json}{next_cursor};
ok($c, 'a cursor is issued when more items follow');
is(list("?limit=1&sort=-created_at&cursor=$c")->{status}, 400, 'a cursor of another sort is 400');
(my $forged = $c) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
is(list("?limit=1&sort=title&cursor=$forged")->{status}, 400, 'a tampered cursor is 400');
is(list('?cursor=abc.def')->{status}, 400, 'a made-up cursor is 400');
# one key per purpose: the cursor key signs cursors, no other key does
{
    my ($enc) = $c =~ /^([^.]+)\./;
    my $msg = "mam-cursor\n" . decode_base64url($enc);
    my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
    is($c, "$enc." . encode_base64url(hmac_sha256($msg, purpose_key($key, 'cursor'))),
       'cursors are signed with the cursor key, HKDF-SHA256 of the signing key');
    for my $k (['the signing key itself', $key], map { ["the $_ key", purpose_key($key, $_)] } qw(edge upload)) {
        my $forged = "$enc." . encode_base64url(hmac_sha256($msg, $k->[1]));
        is(list("?limit=1&sort=title&cursor=$forged")->{status}, 400, "a cursor signed with $k->[0] is 400");
    }
}
for my $bad ('limit=0', 'limit=101', 'limit=abc', 'limit=-1', 'sort=size', 'sort=') {
    is(list("?$bad")->{status}, 400, "$bad is 400");
}
is(scalar(titles(list('?limit=3'))), 3, 'limit is honoured');
$s->psql("INSERT INTO assets (user_id, title) SELECT '$ed->{user}{id}', 'bulk ' || g
           FROM generate_series(1, 30) g");
$r = list('');
is(scalar(titles($r)), 24, 'the default limit is 24');
ok($r->{json}{next_cursor}, '... with a cursor to the rest');

# Times apart by less than the millisecond an item shows, and equal times:
# the cursor keeps the exact time (schema 032's page_key) and the id, so a
# page of one at a time goes through them in the list's order, in the
# assets' own pages, a search's, and a tag's (its rows of asset_facets).
$s->psql("INSERT INTO assets (user_id, title, tags, created_at)
          SELECT '$ed->{user}{id}', 'micro ' || g, '{micro}',
                 '2030-01-01 00:00:00.123'::timestamptz + (g % 3) * interval '1 microsecond'
            FROM generate_series(1, 6) g");
for my $q ('', 'q=micro&', 'tag=micro&') {
    for my $sort ('created_at', '-created_at') {
        my @whole = grep { /^micro/ } titles(list("?${q}limit=100&sort=$sort"));
        my (@paged, $cursor, $pages);
        do {
            my $r = list("?${q}limit=1&sort=$sort" . ($cursor ? "&cursor=$cursor" : ''));
            push @paged, grep { /^micro/ } titles($r);
            $cursor = $r->{json}{next_cursor};
        } while ($cursor && ++$pages < 100 && @paged < 6);
        is(scalar(@whole), 6, "${q}sort=$sort: the six in one page");
        is_deeply(\@paged, \@whole, '... and one a page, in the same order');
    }
}

$s->check_error_log;
done_testing();
