//! The social API: ids, operations, replies and typed errors.
//!
//! Ids encode their owner, so any engine routes an op to its home partition
//! without a lookup (see [`crate::placement`]). Everything here is plain data:
//! `Op` is what a simulated user asks, `Response` is what it gets back.

use std::fmt;

use serde::Serialize;

/// Largest body (post, comment, DM) an engine stores, in bytes.
///
/// 40,000 is Reddit's limit for a self-post's text; comments there allow 10,000.
/// One limit for every kind keeps the rule simple to test.
pub const MAX_BODY_LEN: usize = 40_000;

/// Largest `limit` a feed, inbox or comment listing accepts (Reddit's API caps
/// listings at 100).
pub const MAX_LIMIT: u16 = 100;

/// Longest search term, in bytes.
pub const MAX_TERM_LEN: usize = 64;

/// A user, chosen by the caller, dense from 0. Must stay below
/// [`UserId::MAX`] because the top bit of a [`CommunityId`] marks profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(pub u32);

impl UserId {
    /// One past the largest valid user id (2^31): the profile range needs the top bit.
    pub const MAX: u32 = 1 << 31;

    /// Whether this id is in the valid range.
    pub fn is_valid(self) -> bool {
        self.0 < Self::MAX
    }
}

/// A community, chosen by the caller, dense from 0; ids with the top bit set
/// are the users' profile communities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CommunityId(pub u32);

impl CommunityId {
    /// First id of the reserved profile range.
    pub const PROFILE_BASE: u32 = 1 << 31;

    /// The profile community of `user`: following a user is joining it, and a
    /// tweet is a post in one's own profile.
    pub fn profile(user: UserId) -> Self {
        CommunityId(Self::PROFILE_BASE | user.0)
    }

    /// Whether this is a user's profile community.
    pub fn is_profile(self) -> bool {
        self.0 & Self::PROFILE_BASE != 0
    }

    /// The owner of a profile community, or `None` for an ordinary community.
    pub fn profile_owner(self) -> Option<UserId> {
        self.is_profile()
            .then_some(UserId(self.0 & !Self::PROFILE_BASE))
    }
}

/// A post: its community and its sequence number there (assigned by the
/// owning partition, dense from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PostId {
    /// The community the post lives in.
    pub community: CommunityId,
    /// Sequence number within the community.
    pub seq: u32,
}

/// A comment: its post and its sequence number under that post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CommentId {
    /// The post the comment belongs to.
    pub post: PostId,
    /// Sequence number under the post, dense from 0.
    pub seq: u32,
}

/// A direct message: its recipient and its sequence number in their inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DmId {
    /// The recipient.
    pub to: UserId,
    /// Sequence number in the recipient's inbox, dense from 0.
    pub seq: u32,
}

/// What a vote applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Target {
    /// A post.
    Post(PostId),
    /// A comment.
    Comment(CommentId),
}

impl Target {
    /// The community that owns the target (its home).
    pub fn community(self) -> CommunityId {
        match self {
            Target::Post(p) => p.community,
            Target::Comment(c) => c.post.community,
        }
    }
}

/// Direction of a vote. `Clear` withdraws a previous vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum VoteDir {
    /// +1.
    Up,
    /// -1.
    Down,
    /// 0: withdraw.
    Clear,
}

impl VoteDir {
    /// The vote's value: +1, -1 or 0.
    pub fn value(self) -> i8 {
        match self {
            VoteDir::Up => 1,
            VoteDir::Down => -1,
            VoteDir::Clear => 0,
        }
    }
}

/// Feed ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Sort {
    /// Reddit's hot: log-scaled score plus a creation-time bonus, so new posts
    /// rise and old ones sink. Time is the engine's logical clock, never the wall clock.
    Hot,
    /// Newest first.
    New,
    /// Highest score first.
    Top,
}

/// Stored text bytes of a post, comment, DM or search term.
///
/// A body either borrows bytes that live as long as the process (the
/// workload's corpus and word list, see [`Body::from_static`]) or owns its
/// bytes. The workload hands out borrowed bodies, so making an op allocates
/// nothing. What an engine keeps, it keeps as bytes of its own (its state's
/// memory counts them): a session that hands ops to an engine thread makes
/// the body own its bytes before sending ([`Op::own_body`], on the client's
/// thread) and the partition keeps that allocation ([`Body::into_boxed`]
/// moves it); applied inline (serial, striped) the partition copies it on
/// the caller's thread. Either way a write costs one allocation, on the
/// client's thread. Equality and hashing see the bytes only.
/// Oversized bodies are representable on purpose: engines reject them with
/// [`ApiError::BodyTooLarge`].
#[derive(Clone)]
pub struct Body(Text);

/// Where a [`Body`]'s bytes are.
#[derive(Clone)]
enum Text {
    /// Bytes that live as long as the process: no allocation.
    Static(&'static [u8]),
    /// Bytes of its own.
    Owned(Box<[u8]>),
}

impl Body {
    /// A body that borrows `bytes` (no allocation).
    pub const fn from_static(bytes: &'static [u8]) -> Body {
        Body(Text::Static(bytes))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Text::Static(b) => b,
            Text::Owned(b) => b,
        }
    }

    /// Whether the body owns its bytes (rather than borrowing static ones).
    pub fn is_owned(&self) -> bool {
        matches!(self.0, Text::Owned(_))
    }

    /// The same bytes in a body that owns them (a copy of borrowed bytes).
    pub fn into_owned(self) -> Body {
        Body(Text::Owned(self.into_boxed()))
    }

    /// The bytes, owned: a borrowed body's are copied, an owned body's
    /// moved out.
    pub fn into_boxed(self) -> Box<[u8]> {
        match self.0 {
            Text::Static(b) => b.into(),
            Text::Owned(b) => b,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::from_static(b"")
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Body {}

impl std::hash::Hash for Body {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body(Text::Owned(s.as_bytes().into()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body(Text::Owned(v.into_boxed_slice()))
    }
}

impl From<Box<[u8]>> for Body {
    fn from(b: Box<[u8]>) -> Self {
        Body(Text::Owned(b))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long bodies would drown a debug print; show the length and a prefix.
        let bytes = self.as_bytes();
        let head = &bytes[..bytes.len().min(24)];
        write!(
            f,
            "Body({}B {:?})",
            bytes.len(),
            String::from_utf8_lossy(head)
        )
    }
}

impl Serialize for Body {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A request. The acting user (author, voter, sender, joiner) is trusted as
/// authenticated; engines validate the home entity and the values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// Create a user and their profile community (the user is its first member).
    Register {
        /// The new user.
        user: UserId,
    },
    /// Create an ordinary community; the creator joins it.
    CreateCommunity {
        /// Who creates it.
        creator: UserId,
        /// The new community (not in the profile range).
        community: CommunityId,
    },
    /// Join a community (following a user = joining their profile).
    Join {
        /// Who joins.
        user: UserId,
        /// What they join.
        community: CommunityId,
    },
    /// Leave a community.
    Leave {
        /// Who leaves.
        user: UserId,
        /// What they leave.
        community: CommunityId,
    },
    /// Post in a community the author belongs to (in a profile, only its owner).
    CreatePost {
        /// The author.
        author: UserId,
        /// Where.
        community: CommunityId,
        /// The text.
        body: Body,
    },
    /// Comment on a post, at top level or under another comment of the same post.
    Comment {
        /// The author.
        author: UserId,
        /// The post.
        post: PostId,
        /// The comment replied to, if any.
        parent: Option<CommentId>,
        /// The text.
        body: Body,
    },
    /// Vote on a post or comment; one vote per (voter, target).
    Vote {
        /// The voter.
        voter: UserId,
        /// What is voted on.
        target: Target,
        /// Up, down or clear.
        dir: VoteDir,
    },
    /// Read a post with its top comments.
    GetPost {
        /// The post.
        post: PostId,
        /// How many comments at most (by score).
        comments: u16,
    },
    /// A community's feed.
    GetCommunityFeed {
        /// The community.
        community: CommunityId,
        /// Ordering.
        sort: Sort,
        /// How many posts at most (1..=MAX_LIMIT).
        limit: u16,
    },
    /// The merged feed of every community the user is subscribed to.
    GetHomeFeed {
        /// The reader.
        user: UserId,
        /// Ordering.
        sort: Sort,
        /// How many posts at most (1..=MAX_LIMIT).
        limit: u16,
    },
    /// Send a direct message.
    SendDm {
        /// Sender.
        from: UserId,
        /// Recipient (the home entity).
        to: UserId,
        /// The text.
        body: Body,
    },
    /// The newest DMs of a user.
    GetInbox {
        /// Whose inbox.
        user: UserId,
        /// How many at most (1..=MAX_LIMIT).
        limit: u16,
    },
    /// A user's karma and counts.
    GetProfile {
        /// Whose profile.
        user: UserId,
    },
    /// Scan a community's post bodies for a term: cost grows with the
    /// community, the deliberate long blocking task.
    Search {
        /// Where.
        community: CommunityId,
        /// The bytes to look for (1..=MAX_TERM_LEN bytes).
        term: Body,
    },
}

/// The kinds of [`Op`], for per-kind tallies and histograms. The variant
/// list is the only table: [`OpKind::ALL`], [`OpKind::COUNT`] and
/// [`OpKind::name`] are derived from it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::EnumCount,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[repr(u8)]
pub enum OpKind {
    /// [`Op::Register`].
    Register,
    /// [`Op::CreateCommunity`].
    CreateCommunity,
    /// [`Op::Join`].
    Join,
    /// [`Op::Leave`].
    Leave,
    /// [`Op::CreatePost`].
    CreatePost,
    /// [`Op::Comment`].
    Comment,
    /// [`Op::Vote`].
    Vote,
    /// [`Op::GetPost`].
    GetPost,
    /// [`Op::GetCommunityFeed`].
    GetCommunityFeed,
    /// [`Op::GetHomeFeed`].
    GetHomeFeed,
    /// [`Op::SendDm`].
    SendDm,
    /// [`Op::GetInbox`].
    GetInbox,
    /// [`Op::GetProfile`].
    GetProfile,
    /// [`Op::Search`].
    Search,
}

impl OpKind {
    /// Number of kinds.
    pub const COUNT: usize = <Self as strum::EnumCount>::COUNT;

    /// Every kind, in declaration order (index = `kind as usize`).
    pub const ALL: [OpKind; Self::COUNT] = {
        // strum gives a slice; copy it into an array so that callers can
        // iterate by value and index it at compile time.
        let variants = <Self as strum::VariantArray>::VARIANTS;
        let mut all = [OpKind::Register; Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            all[i] = variants[i];
            i += 1;
        }
        all
    };

    /// A stable snake_case name for CSV columns and JSON (the variant's
    /// name in snake case).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether ops of this kind change state (reads do not).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OpKind::Register
                | OpKind::CreateCommunity
                | OpKind::Join
                | OpKind::Leave
                | OpKind::CreatePost
                | OpKind::Comment
                | OpKind::Vote
                | OpKind::SendDm
        )
    }
}

impl Op {
    /// Makes the body a write keeps (a post's, a comment's, a DM's) own its
    /// bytes; other ops are left as they are. A session that hands ops to
    /// an engine thread calls it before sending, so the allocation is made
    /// on the sender's thread and the engine only keeps it (an engine
    /// thread is often the bottleneck): a message between threads carries
    /// its bytes. A search term is read, not kept, and stays borrowed.
    #[inline]
    pub fn own_body(&mut self) {
        if let Op::CreatePost { body, .. } | Op::Comment { body, .. } | Op::SendDm { body, .. } =
            self
            && !body.is_owned()
        {
            *body = std::mem::take(body).into_owned();
        }
    }

    /// This op's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Register { .. } => OpKind::Register,
            Op::CreateCommunity { .. } => OpKind::CreateCommunity,
            Op::Join { .. } => OpKind::Join,
            Op::Leave { .. } => OpKind::Leave,
            Op::CreatePost { .. } => OpKind::CreatePost,
            Op::Comment { .. } => OpKind::Comment,
            Op::Vote { .. } => OpKind::Vote,
            Op::GetPost { .. } => OpKind::GetPost,
            Op::GetCommunityFeed { .. } => OpKind::GetCommunityFeed,
            Op::GetHomeFeed { .. } => OpKind::GetHomeFeed,
            Op::SendDm { .. } => OpKind::SendDm,
            Op::GetInbox { .. } => OpKind::GetInbox,
            Op::GetProfile { .. } => OpKind::GetProfile,
            Op::Search { .. } => OpKind::Search,
        }
    }

    /// The checks of the op's values that every engine makes before it looks
    /// at any state, in this order: an id outside its range
    /// ([`ApiError::UnknownUser`] for a Register), a community created in
    /// the profile range ([`ApiError::Forbidden`]), a body over
    /// [`MAX_BODY_LEN`] ([`ApiError::BodyTooLarge`]), a limit outside
    /// `1..=MAX_LIMIT` or a comment count over [`MAX_LIMIT`]
    /// ([`ApiError::BadLimit`]), a search term outside `1..=MAX_TERM_LEN`
    /// bytes ([`ApiError::BadTerm`]). The partition applies it first, and the
    /// `redis` engine answers such ops without a round trip.
    pub fn check_values(&self) -> Result<(), ApiError> {
        match self {
            Op::Register { user } if !user.is_valid() => Err(ApiError::UnknownUser),
            Op::CreateCommunity { community, .. } if community.is_profile() => {
                Err(ApiError::Forbidden)
            }
            Op::CreatePost { body, .. } | Op::Comment { body, .. } | Op::SendDm { body, .. } => {
                check_body(body)
            }
            Op::GetPost { comments, .. } if *comments > MAX_LIMIT => Err(ApiError::BadLimit {
                limit: *comments,
                max: MAX_LIMIT,
            }),
            Op::GetCommunityFeed { limit, .. }
            | Op::GetHomeFeed { limit, .. }
            | Op::GetInbox { limit, .. } => check_limit(*limit),
            Op::Search { term, .. } if term.is_empty() || term.len() > MAX_TERM_LEN => {
                Err(ApiError::BadTerm {
                    len: clamp_u32(term.len()),
                    max: MAX_TERM_LEN as u32,
                })
            }
            _ => Ok(()),
        }
    }

    /// The entity that decides the op's home partition.
    pub fn home(&self) -> Home {
        match self {
            Op::Register { user }
            | Op::GetHomeFeed { user, .. }
            | Op::GetInbox { user, .. }
            | Op::GetProfile { user } => Home::User(*user),
            Op::SendDm { to, .. } => Home::User(*to),
            Op::CreateCommunity { community, .. }
            | Op::Join { community, .. }
            | Op::Leave { community, .. }
            | Op::CreatePost { community, .. }
            | Op::GetCommunityFeed { community, .. }
            | Op::Search { community, .. } => Home::Community(*community),
            Op::Comment { post, .. } | Op::GetPost { post, .. } => Home::Community(post.community),
            Op::Vote { target, .. } => Home::Community(target.community()),
        }
    }
}

/// Refuses a feed, inbox or home-feed `limit` outside `1..=MAX_LIMIT`.
pub(crate) fn check_limit(limit: u16) -> Result<(), ApiError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadLimit {
            limit,
            max: MAX_LIMIT,
        });
    }
    Ok(())
}

/// Refuses a body over [`MAX_BODY_LEN`].
fn check_body(body: &Body) -> Result<(), ApiError> {
    if body.len() > MAX_BODY_LEN {
        return Err(ApiError::BodyTooLarge {
            len: clamp_u32(body.len()),
            max: MAX_BODY_LEN as u32,
        });
    }
    Ok(())
}

/// `n`, or `u32::MAX` when it does not fit.
pub(crate) fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The placement key of an op's home entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Home {
    /// A user's data (profile community included).
    User(UserId),
    /// A community's data (posts, comments, votes, members).
    Community(CommunityId),
}

/// A post as listed in a feed (no body: feeds list, `GetPost` reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PostSummary {
    /// The post.
    pub id: PostId,
    /// Its author.
    pub author: UserId,
    /// Sum of its votes.
    pub score: i64,
    /// How many comments it has.
    pub comments: u32,
    /// Logical creation time (the engine's post clock), which orders `New`.
    pub created: u64,
}

/// A comment as listed under a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CommentSummary {
    /// The comment.
    pub id: CommentId,
    /// Its author.
    pub author: UserId,
    /// The comment it answers, if any.
    pub parent: Option<CommentId>,
    /// Sum of its votes.
    pub score: i64,
}

/// A post with its body and top comments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PostView {
    /// The post as a feed lists it.
    pub post: PostSummary,
    /// The body, copied out of the engine's state.
    pub body: Body,
    /// The highest-scored comments (ties: older first), at most the asked number.
    pub top_comments: Vec<CommentSummary>,
}

/// A direct message as an inbox lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct DmSummary {
    /// The message.
    pub id: DmId,
    /// Its sender.
    pub from: UserId,
    /// Body length in bytes.
    pub len: u32,
}

/// A user's karma and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub struct ProfileView {
    /// Sum of scores of the user's posts.
    pub post_karma: i64,
    /// Sum of scores of the user's comments.
    pub comment_karma: i64,
    /// Communities the user is subscribed to (own profile included).
    pub subscriptions: u32,
    /// Members of the user's profile community (followers, self included).
    pub followers: u32,
    /// Posts in the user's profile.
    pub profile_posts: u32,
    /// DMs received.
    pub inbox: u32,
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Reply {
    /// Register, CreateCommunity, Join, Leave.
    Done,
    /// CreatePost.
    Posted(PostId),
    /// Comment.
    Commented(CommentId),
    /// Vote: the delta this vote applied to the score, and the new score.
    Voted {
        /// New value minus previous value of this voter's vote (-2..=2).
        delta: i8,
        /// The target's score after the vote.
        score: i64,
    },
    /// GetPost.
    Post(Box<PostView>),
    /// GetCommunityFeed, GetHomeFeed.
    Feed(Vec<PostSummary>),
    /// SendDm.
    Sent(DmId),
    /// GetInbox: newest first.
    Inbox(Vec<DmSummary>),
    /// GetProfile.
    Profile(ProfileView),
    /// Search: how many posts matched, and the newest matches (at most 10).
    Found {
        /// Number of matching posts.
        matches: u32,
        /// Newest matching posts, newest first, at most 10.
        newest: Vec<PostId>,
    },
}

/// Why an op was refused. Every variant leaves the state untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
pub enum ApiError {
    /// Register or CreateCommunity of an id that exists.
    #[error("already exists")]
    AlreadyExists,
    /// The home user does not exist (or the id is out of range).
    #[error("unknown user")]
    UnknownUser,
    /// The community does not exist (or the id is out of range).
    #[error("unknown community")]
    UnknownCommunity,
    /// The post does not exist.
    #[error("unknown post")]
    UnknownPost,
    /// The comment (a parent, or a vote's target) does not exist.
    #[error("unknown comment")]
    UnknownComment,
    /// Join of a community the user already belongs to.
    #[error("already a member")]
    AlreadyMember,
    /// Leave, or a post, by a user who is not a member.
    #[error("not a member")]
    NotMember,
    /// Posting in someone else's profile, creating a community in the profile
    /// range, leaving one's own profile.
    #[error("forbidden")]
    Forbidden,
    /// A body over [`MAX_BODY_LEN`].
    #[error("body of {len} bytes exceeds the limit of {max}")]
    BodyTooLarge {
        /// The body's length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A `limit` of 0 or above [`MAX_LIMIT`].
    #[error("limit {limit} outside 1..={max}")]
    BadLimit {
        /// The limit asked for.
        limit: u16,
        /// The largest allowed.
        max: u16,
    },
    /// A search term that is empty or longer than [`MAX_TERM_LEN`].
    #[error("search term of {len} bytes outside 1..={max}")]
    BadTerm {
        /// The term's length.
        len: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The op panicked inside the engine; it was not applied and the engine
    /// goes on serving.
    #[error("engine fault: the op panicked and was not applied")]
    EngineFault,
    /// The partition crashed before the op's write was durable: it was
    /// not applied (the crash fault, `--fault crash`).
    #[error("partition crashed: the op was not applied")]
    Crashed,
    /// The shard's primary died (or was deposed) with the op in flight,
    /// and the backup promoted in its place does not have it: it was not
    /// applied (failover, `--fault kill-primary`).
    #[error("shard unavailable: its primary failed over and the op was not applied")]
    Unavailable,
    /// The engine is shut down.
    #[error("engine is shut down")]
    Shutdown,
}

/// What an engine answers to an op.
pub type Response = Result<Reply, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_its_bytes_whether_borrowed_or_owned() {
        use std::hash::BuildHasher as _;
        let borrowed = Body::from_static(b"hello");
        let owned = Body::from("hello");
        assert!(!borrowed.is_owned() && owned.is_owned());
        assert_eq!(borrowed, owned);
        assert_ne!(borrowed, Body::from("hellO"));
        let h = std::collections::hash_map::RandomState::new();
        assert_eq!(h.hash_one(&borrowed), h.hash_one(&owned));
        assert_eq!(Body::default(), Body::from(""));
        // Borrowed bytes are copied into an allocation of their own; owned
        // ones are moved out as they are.
        let stat: &'static [u8] = b"static text";
        let copied = Body::from_static(stat).into_boxed();
        assert_eq!(&*copied, stat);
        assert!(!std::ptr::eq(copied.as_ptr(), stat.as_ptr()));
        let heap = Body::from(vec![7u8; 9]);
        let at = heap.as_bytes().as_ptr();
        assert!(std::ptr::eq(heap.into_boxed().as_ptr(), at));
    }

    #[test]
    fn own_body_gives_kept_bodies_their_own_bytes_and_leaves_terms_borrowed() {
        let (user, community) = (UserId(1), CommunityId(2));
        let post = PostId { community, seq: 0 };
        let writes = [
            Op::CreatePost {
                author: user,
                community,
                body: Body::from_static(b"a post"),
            },
            Op::Comment {
                author: user,
                post,
                parent: None,
                body: Body::from_static(b"re"),
            },
            Op::SendDm {
                from: user,
                to: UserId(3),
                body: Body::from_static(b"hi"),
            },
        ];
        for op in writes {
            let mut owned = op.clone();
            owned.own_body();
            assert_eq!(owned, op, "the same bytes");
            match &owned {
                Op::CreatePost { body, .. }
                | Op::Comment { body, .. }
                | Op::SendDm { body, .. } => {
                    assert!(body.is_owned(), "{owned:?}")
                }
                _ => unreachable!(),
            }
        }
        let mut search = Op::Search {
            community,
            term: Body::from_static(b"the"),
        };
        search.own_body();
        assert!(matches!(&search, Op::Search { term, .. } if !term.is_owned()));
        // An owned body is left where it is.
        let mut dm = Op::SendDm {
            from: user,
            to: UserId(3),
            body: Body::from("mine"),
        };
        let at = |op: &Op| match op {
            Op::SendDm { body, .. } => body.as_bytes().as_ptr(),
            _ => unreachable!(),
        };
        let before = at(&dm);
        dm.own_body();
        assert!(std::ptr::eq(at(&dm), before));
    }

    #[test]
    fn profile_ids_round_trip_and_are_distinct_from_communities() {
        let u = UserId(12345);
        let p = CommunityId::profile(u);
        assert!(p.is_profile());
        assert_eq!(p.profile_owner(), Some(u));
        assert_eq!(CommunityId(12345).profile_owner(), None);
        assert_ne!(p, CommunityId(12345));
    }

    #[test]
    fn op_kinds_are_indexed_in_order() {
        for (i, k) in OpKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    /// The names are CSV column values and JSON keys of every output: pin them.
    #[test]
    fn op_kind_names_are_the_output_names() {
        let names: Vec<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "register",
                "create_community",
                "join",
                "leave",
                "create_post",
                "comment",
                "vote",
                "get_post",
                "get_community_feed",
                "get_home_feed",
                "send_dm",
                "get_inbox",
                "get_profile",
                "search",
            ]
        );
    }
}
