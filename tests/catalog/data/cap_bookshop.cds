namespace bookshop;
using { cuid, managed } from '@sap/cds/common';

type Genre : String enum { Fiction; Poetry; Drama = 'drama' };
type Price : Decimal(9, 2);

aspect Named { name : String(111) not null; }

entity Authors : cuid, managed, Named {
  born  : Date;
  books : Association to many Books on books.author = $self;
}

entity Books : cuid, managed {
  title    : localized String(111);
  descr    : LargeString;
  genre    : Genre;
  stock    : Integer default 0;
  price    : Price;
  rating   : Double;
  isbn     : String(13) @readonly;
  author   : Association to Authors;
  address  : { street : String(60); city : String(40); };
  tags     : many String;
  pages    : array of Integer;
}

entity OrderItems {
  key order_no : Integer;
  key pos      : Integer;
  book         : Association to Books;
  quantity     : Integer;
}

service CatalogService @(path: 'catalog') {
  entity Authors as projection on bookshop.Authors;
  @readonly entity Books as projection on bookshop.Books;
  @insertonly entity Items as projection on bookshop.OrderItems;
}
